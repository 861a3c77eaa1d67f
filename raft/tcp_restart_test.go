package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore/memory"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/wire"
)

// tcpCluster is a 3-node cluster over the TCP transport on 127.0.0.1.
type tcpCluster struct {
	t     *testing.T
	nodes []*tcpNode
	conf  wire.Configuration
}

func newTCPCluster(t *testing.T) *tcpCluster {
	c := &tcpCluster{t: t}
	for i := 1; i <= 3; i++ {
		tn := &tcpNode{id: wire.NodeID(fmt.Sprintf("n%d", i)), store: memory.New(), snaps: snapmem.New(2)}
		tn.start(t, nil)
		c.nodes = append(c.nodes, tn)
		c.conf.Servers = append(c.conf.Servers, wire.Server{ID: tn.id, Address: tn.addr})
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			tn.stop(t)
		}
	})
	for _, tn := range c.nodes {
		tn.run(t)
		if err := tn.node.Bootstrap(c.conf); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// leader waits until every node agrees on one leader and returns it.
func (c *tcpCluster) leader() *tcpNode {
	c.t.Helper()
	var lead *tcpNode
	waitFor(c.t, "a leader every node follows", func() bool {
		lead = nil
		for _, tn := range c.nodes {
			if tn.node.State() == Leader {
				lead = tn
			}
		}
		if lead == nil {
			return false
		}
		for _, tn := range c.nodes {
			if l, _ := tn.node.Leader(); l != lead.id {
				return false
			}
		}
		return true
	})
	return lead
}

// others returns the nodes other than the given ones, in order.
func (c *tcpCluster) others(not ...*tcpNode) []*tcpNode {
	var out []*tcpNode
next:
	for _, tn := range c.nodes {
		for _, n := range not {
			if tn == n {
				continue next
			}
		}
		out = append(out, tn)
	}
	return out
}

// transfer asks asker to hand leadership to target until target leads
// (one request may be lost to an election in between; a request that can
// never arrive fails the test at the wait's deadline).
func (c *tcpCluster) transfer(asker, target *tcpNode) {
	c.t.Helper()
	var asked time.Time
	waitFor(c.t, fmt.Sprintf("%s to lead after %s asked", target.id, asker.id), func() bool {
		if l, _ := asker.node.Leader(); l == target.id && target.node.State() == Leader {
			return true
		}
		if time.Since(asked) > time.Second {
			asked = time.Now()
			if err := asker.node.TransferLeadership(context.Background(), target.id); err != nil {
				c.t.Fatalf("TransferLeadership on %s: %v", asker.id, err)
			}
		}
		return false
	})
}

// applyOnce applies cmd on tn, retrying only what certainly did not commit
// (no leader known yet, a transfer under way). An outcome-unknown error,
// as when a forwarded proposal is lost on the way, fails the test.
func applyOnce(t *testing.T, tn *tcpNode, cmd string) Applied {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	for {
		res, err := tn.node.Apply(ctx, []byte(cmd))
		if err == nil {
			return res
		}
		if !errors.Is(err, ErrNotCommitted) || ctx.Err() != nil {
			t.Fatalf("apply %q on %s: %v", cmd, tn.id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart stops tn and starts it again on the same address over the same
// stores, as after a crash.
func (c *tcpCluster) restart(tn *tcpNode) {
	c.t.Helper()
	tn.stop(c.t)
	tn.start(c.t, &c.conf)
}

// The transport authenticates the sender of every message; a transfer
// asked of a follower still reaches the leader, for a target other than
// the follower and for the follower itself.
func TestTransferAskedOfAFollowerOverTCPMovesLeadership(t *testing.T) {
	c := newTCPCluster(t)
	lead := c.leader()
	rest := c.others(lead)
	asker, target := rest[0], rest[1]
	c.transfer(asker, target)
	if lead = c.leader(); lead != target {
		t.Fatalf("leader %s, want %s", lead.id, target.id)
	}
	// The asker, still a follower, asks for itself.
	c.transfer(asker, asker)
	if lead = c.leader(); lead != asker {
		t.Fatalf("leader %s, want %s", lead.id, asker.id)
	}
	applyOnce(t, target, "after-transfers")
}

// A follower restarted on its address (new transport, same stores)
// serves an Apply at once: the cluster's connections to its previous
// incarnation do not swallow what is sent to the new one.
func TestApplyOnAFollowerRightAfterItRestartsOverTCP(t *testing.T) {
	c := newTCPCluster(t)
	lead := c.leader()
	follower := c.others(lead)[0]
	applyOnce(t, follower, "before-restart")
	c.restart(follower)
	res := applyOnce(t, follower, "right-after-restart")
	waitFor(t, "the restarted follower to apply its command", func() bool { return follower.fsm.lastIndex() >= res.Index })
}

// A follower's proposal forwarded to a leader that restarted since the
// follower last sent it one travels on a new connection: it is not
// written into the connection to the previous incarnation and lost (a
// forwarded proposal is not retried by Raft: the Apply would end outcome
// unknown).
func TestForwardedProposalReachesALeaderThatRestartedOverTCP(t *testing.T) {
	c := newTCPCluster(t)
	first := c.leader()
	rest := c.others(first)
	x, y := rest[0], rest[1]
	// y leads for a while: its connection carrying appends to x is set up.
	c.transfer(y, y)
	applyOnce(t, y, "y-leads")
	// Then y follows again, and x restarts while y sends it nothing on
	// that connection.
	c.transfer(first, first)
	c.restart(x)
	applyOnce(t, first, "x-restarted")
	c.transfer(x, x)
	waitFor(t, "y to follow x", func() bool { l, _ := y.node.Leader(); return l == x.id })
	applyOnce(t, y, "forwarded-to-restarted-leader")
}
