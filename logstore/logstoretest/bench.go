package logstoretest

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// BenchStoreEntries measures appends of 128-byte entries at several batch
// sizes to stores that open returns (one per batch size; the benchmark
// closes them). One op is one batch; entries/s, the payload throughput
// (MB/s) and the process CPU per batch (cpu-µs/op, steadier than time on
// a shared machine and apart from fsync waits) are reported.
func BenchStoreEntries(b *testing.B, open func(b *testing.B) logstore.Store) {
	for _, batch := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := open(b)
			defer s.Close()
			payload := make([]byte, 128)
			entries := make([]wire.Entry, batch)
			b.SetBytes(int64(batch * len(payload)))
			b.ResetTimer()
			cpu0 := processCPU()
			next := uint64(1)
			for b.Loop() {
				for i := range entries {
					entries[i] = wire.Entry{Index: next, Term: 1, Data: payload}
					next++
				}
				if err := s.StoreEntries(entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchEntries measures reading back 64 stored 128-byte entries from a
// store that open returns (the benchmark closes it).
func BenchEntries(b *testing.B, open func(b *testing.B) logstore.Store) {
	s := open(b)
	defer s.Close()
	entries := make([]wire.Entry, 4096)
	for i := range entries {
		entries[i] = wire.Entry{Index: uint64(i + 1), Term: 1, Data: make([]byte, 128)}
	}
	if err := s.StoreEntries(entries); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 * 128)
	lo := uint64(1)
	for b.Loop() {
		if _, err := s.Entries(lo, lo+64, 0); err != nil {
			b.Fatal(err)
		}
		lo = lo%4000 + 1
	}
	b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "entries/s")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
