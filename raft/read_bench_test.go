package raft

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// benchCluster starts a 3-node in-memory cluster with the timeouts of
// BenchmarkApply and returns it with its leader.
func benchCluster(b *testing.B, tweak func(*Config)) (*testCluster, wire.NodeID) {
	c := newTestCluster(b, 3, withConfig(func(cfg *Config) {
		cfg.HeartbeatTimeout = 50 * time.Millisecond
		cfg.ElectionTimeout = time.Second
		if tweak != nil {
			tweak(cfg)
		}
	}))
	c.start(true)
	lead := c.waitLeader()
	c.apply(lead, "warm-up")
	return c, lead
}

// BenchmarkReadVersusApply compares, on a 3-node in-memory cluster, one
// caller's latency (ns/op) for: Apply of a 128-byte command on the leader;
// a Linearizable Read on the leader and on a follower (a heartbeat round
// each, no log write); a Lease read on the leader (no round while the
// lease holds); and a BoundedStaleness read on a follower (local only).
func BenchmarkReadVersusApply(b *testing.B) {
	cmd := make([]byte, 128)
	cases := []struct {
		name     string
		lease    bool
		follower bool
		op       func(n *Node) error
	}{
		{name: "apply/leader", op: func(n *Node) error { _, err := n.Apply(context.Background(), cmd); return err }},
		{name: "linearizable/leader", op: func(n *Node) error { return n.Read(context.Background(), ReadConsistency{}) }},
		{name: "linearizable/follower", follower: true, op: func(n *Node) error { return n.Read(context.Background(), ReadConsistency{}) }},
		{name: "lease/leader", lease: true, op: func(n *Node) error { return n.Read(context.Background(), ReadConsistency{Mode: Lease}) }},
		{name: "bounded/follower", follower: true, op: func(n *Node) error { return n.Read(context.Background(), Bounded(1000, time.Second)) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c, lead := benchCluster(b, func(cfg *Config) { cfg.LeaseReads = tc.lease })
			id := lead
			if tc.follower {
				id = c.others(lead)[0]
				waitFor(b, "the follower to pass a bounded read", func() bool {
					return c.node(id).Read(context.Background(), Bounded(1000, time.Second)) == nil
				})
			}
			n := c.node(id)
			refused := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := tc.op(n)
				if errors.Is(err, ErrTooStale) {
					// A refusal is an answer too; count it.
					refused++
					continue
				}
				if err != nil {
					b.Fatalf("%s: %v", tc.name, err)
				}
			}
			b.ReportMetric(float64(refused)/float64(b.N), "refused/op")
		})
	}
}

// BenchmarkTransferToFirstCommit measures the time (ns/op) from
// TransferLeadership on the leader of a 3-node in-memory cluster to the
// first command committed by the new leader, the old leader's log being
// up to date with the target's.
func BenchmarkTransferToFirstCommit(b *testing.B) {
	c, lead := benchCluster(b, nil)
	cmd := []byte("after-transfer")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		target := c.others(lead)[i%2]
		if err := c.node(lead).TransferLeadership(context.Background(), target); err != nil {
			b.Fatal(err)
		}
		for {
			if c.node(target).State() == Leader {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := c.node(target).Apply(ctx, cmd)
				cancel()
				if err == nil {
					break
				}
			}
			time.Sleep(50 * time.Microsecond)
		}
		lead = target
		b.StopTimer()
		// Let the old leader learn of the new one before the next round.
		waitFor(b, "every node to follow "+string(lead), func() bool { return c.leaderAmong(c.ids...) == lead })
		b.StartTimer()
	}
}
