package raft

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore/boltdb"
)

// BenchmarkApply measures committed commands per second on a 3-node
// in-memory cluster (in-memory transport and stores: it measures the
// runtime and the core, not a disk), with 1 and 256 concurrent proposers
// on the leader.
func BenchmarkApply(b *testing.B) {
	benchmarkApply(b, false)
}

// BenchmarkApplyDurable is BenchmarkApply with every node's log in the
// bolt store (one fsync per group commit) in a temporary directory.
func BenchmarkApplyDurable(b *testing.B) {
	benchmarkApply(b, true)
}

func benchmarkApply(b *testing.B, durable bool) {
	for _, proposers := range []int{1, 256} {
		b.Run(fmt.Sprintf("proposers=%d", proposers), func(b *testing.B) {
			// Stores are opened first so that they close after the
			// cluster's shutdown (cleanups run last-in first-out).
			var stores []*boltdb.Store
			for i := 0; durable && i < 3; i++ {
				s, err := boltdb.Open(b.TempDir(), boltdb.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = s.Close() })
				stores = append(stores, s)
			}
			c := newTestCluster(b, 3, withConfig(func(cfg *Config) {
				cfg.HeartbeatTimeout = 50 * time.Millisecond
				cfg.ElectionTimeout = time.Second
			}))
			for i, s := range stores {
				c.nodes[c.ids[i]].store = s
			}
			c.start(true)
			lead := c.waitLeader()
			node := c.node(lead)
			cmd := make([]byte, 128)
			var next atomic.Int64
			var failed atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for p := 0; p < proposers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := node.Apply(context.Background(), cmd); err != nil {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d applies failed", n, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
		})
	}
}
