package boltdb

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// BenchmarkStoreEntries measures durable appends (fsync on) of 128-byte
// entries at several batch sizes. One op is one batch; entries/s, the
// payload throughput (MB/s) and the process CPU per batch (cpu-µs/op,
// steadier than time on a shared machine and apart from fsync waits) are
// reported.
func BenchmarkStoreEntries(b *testing.B) { benchStoreEntries(b, Options{}) }

// BenchmarkStoreEntriesNoSync is the same without fsync: the CPU cost of
// encoding and bolt, apart from the disk's.
func BenchmarkStoreEntriesNoSync(b *testing.B) { benchStoreEntries(b, Options{UnsafeNoSync: true}) }

func benchStoreEntries(b *testing.B, opts Options) {
	for _, batch := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := Open(b.TempDir(), opts)
			if err != nil {
				b.Fatal(err)
			}
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

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEntries measures reading back 64 stored 128-byte entries, as
// served by the cache of recent entries.
func BenchmarkEntries(b *testing.B) { benchEntries(b, Options{UnsafeNoSync: true}) }

// BenchmarkEntriesFromBolt is the same with every read going to bolt.
func BenchmarkEntriesFromBolt(b *testing.B) {
	benchEntries(b, Options{UnsafeNoSync: true, CacheEntries: -1})
}

func benchEntries(b *testing.B, opts Options) {
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
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
