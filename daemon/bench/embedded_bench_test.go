package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// BenchmarkEmbedded runs the embedded benchmark (three nodes over TCP on
// 127.0.0.1, bolt stores with fsync, 128-byte commands) once per proposer
// count, so that `go test -bench Embedded -benchtime 1x -cpuprofile ...`
// profiles the whole write path. Each run lasts MANDATE_BENCH_DURATION
// (default 3s); b.N is ignored. MANDATE_BENCH_UNSAFE_NO_SYNC=1 runs
// without fsync; MANDATE_BENCH_STORE=wal runs on the segment-file log
// store instead of bolt.
func BenchmarkEmbedded(b *testing.B) {
	d := 3 * time.Second
	if s := os.Getenv("MANDATE_BENCH_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("MANDATE_BENCH_DURATION: %v", err)
		}
		d = v
	}
	// MANDATE_BENCH_UNSAFE_NO_SYNC=1 turns fsync off: CPU per commit
	// without the disk's (and its other users') timing in the batches.
	noSync := os.Getenv("MANDATE_BENCH_UNSAFE_NO_SYNC") == "1"
	store := os.Getenv("MANDATE_BENCH_STORE")
	for _, clients := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			cpu0 := processCPU()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			r, err := RunEmbedded(context.Background(), EmbeddedOptions{
				Clients: clients, Duration: d, Dir: b.TempDir(), Logger: hclog.NewNullLogger(), UnsafeNoSync: noSync,
				Store: store,
			})
			if err != nil {
				b.Fatal(err)
			}
			runtime.ReadMemStats(&m1)
			if r.Ops == 0 {
				b.Fatalf("result = %+v; want committed operations", r)
			}
			b.ReportMetric(r.OpsPerSec, "ops/s")
			b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
			// CPU per operation is steadier than ops/s on a shared machine
			// (it includes setup and teardown, the same in every run).
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(r.Ops), "cpu-µs/op")
			// Allocations per commit, for all three nodes together (b.N is
			// 1, so -benchmem's figures would be per run).
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(r.Ops), "allocs/commit")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(r.Ops), "B/commit")
			b.ReportMetric(0, "ns/op")
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
