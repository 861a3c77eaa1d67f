package ledger

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSnapshotWithSessions measures the Snapshot call (on the apply
// goroutine) and Persist for a ledger remembering many one-request
// sessions, and the heap each session costs.
func BenchmarkSnapshotWithSessions(b *testing.B) {
	n := benchSessions
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := New(Options{})
	d := newDriver(b, l)
	for i := 0; i < n; i++ {
		if r := d.do(fmt.Sprint("req-", i), Deposit{Account: fmt.Sprint("acct-", i%1000), Amount: 1}); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		start := time.Now()
		s, err := l.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-snapshot-call")
		if err := s.Persist(&buf); err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
	b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
	b.ReportMetric(heap, "heap-B/session")
}

var benchSessions = 1_000_000

func init() {
	if s := os.Getenv("MANDATE_BENCH_SESSIONS"); s != "" {
		benchSessions, _ = strconv.Atoi(s)
	}
}
