package raft

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/logstore/boltdb"
	"github.com/mandate-raft/mandate/logstore/memory"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/transport/tcp"
	"github.com/mandate-raft/mandate/wire"
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
			runApplyLoad(b, c.node(lead), proposers)
		})
	}
}

// BenchmarkApplyTCP is BenchmarkApply over the TCP transport on 127.0.0.1
// (in-memory stores): the runtime, the core and real sockets.
func BenchmarkApplyTCP(b *testing.B) {
	for _, proposers := range []int{1, 256} {
		b.Run(fmt.Sprintf("proposers=%d", proposers), func(b *testing.B) {
			var nodes []*tcpNode
			var conf wire.Configuration
			for i := 1; i <= 3; i++ {
				tn := &tcpNode{id: wire.NodeID(fmt.Sprintf("n%d", i)), store: memory.New(), snaps: snapmem.New(2)}
				tr, err := tcp.New(tcp.Config{ID: tn.id, ClusterID: "raft-bench", BindAddr: "127.0.0.1:0", Logger: hclog.NewNullLogger()})
				if err != nil {
					b.Fatal(err)
				}
				tn.trans, tn.addr, tn.fsm = tr, tr.Addr(), newTestFSM()
				nodes = append(nodes, tn)
				conf.Servers = append(conf.Servers, wire.Server{ID: tn.id, Address: tn.addr})
			}
			b.Cleanup(func() {
				for _, tn := range nodes {
					if tn.node != nil {
						_ = tn.node.Shutdown(context.Background())
					}
					_ = tn.trans.Close()
				}
			})
			for _, tn := range nodes {
				cfg := Config{ID: tn.id, HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: time.Second, Logger: hclog.NewNullLogger()}
				n, err := NewNode(cfg, tn.fsm, tn.store, tn.snaps, tn.trans)
				if err != nil {
					b.Fatal(err)
				}
				tn.node = n
				if err := n.Bootstrap(conf); err != nil {
					b.Fatal(err)
				}
			}
			var node *Node
			waitFor(b, "a leader", func() bool {
				for _, tn := range nodes {
					if tn.node.State() == Leader {
						node = tn.node
						return true
					}
				}
				return false
			})
			runApplyLoad(b, node, proposers)
		})
	}
}

// runApplyLoad applies b.N 128-byte commands through node from proposers
// goroutines and reports ops/s.
func runApplyLoad(b *testing.B, node *Node, proposers int) {
	cmd := make([]byte, 128)
	var next, failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
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
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d applies failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	// CPU per command (all three nodes and the proposers) barely depends
	// on what else the machine runs, unlike ops/s.
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}
