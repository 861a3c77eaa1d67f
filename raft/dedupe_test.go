package raft

import (
	"fmt"
	"testing"

	"github.com/mandate-raft/mandate/transport/inmem"
	"github.com/mandate-raft/mandate/wire"
)

func TestRecentProposalsDropCopiesWithinATerm(t *testing.T) {
	var r recentProposals
	e := func(origin wire.NodeID, id uint64) wire.Entry { return wire.Entry{Origin: origin, ProposalID: id} }
	if got := r.filter(3, []wire.Entry{e("a", 1), e("b", 1), e("", 0)}); len(got) != 3 {
		t.Fatalf("first sight kept %d of 3", len(got))
	}
	if got := r.filter(3, []wire.Entry{e("a", 1), e("a", 2), e("", 0)}); len(got) != 2 || got[0].ProposalID != 2 {
		t.Fatalf("a copy in the same term was kept: %+v", got)
	}
	// A new term forgets: its leader has not appended anything yet.
	if got := r.filter(4, []wire.Entry{e("a", 1)}); len(got) != 1 {
		t.Fatalf("a new term dropped a proposal: %+v", got)
	}
	// Memory is bounded: the oldest keys are forgotten first.
	for i := uint64(0); i < recentMax+10; i++ {
		r.filter(5, []wire.Entry{e("c", i+1)})
	}
	if len(r.seen) > recentMax {
		t.Fatalf("remembers %d proposals, bound %d", len(r.seen), recentMax)
	}
	if got := r.filter(5, []wire.Entry{e("c", recentMax+10)}); len(got) != 0 {
		t.Fatal("a recent key was forgotten")
	}
}

func TestForwardedProposalsDuplicatedByTheNetworkApplyOnce(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	follower := c.others(lead)[0]
	// Every message from the follower to the leader arrives twice.
	c.net.SetFaults(c.nodes[follower].addr, c.nodes[lead].addr, inmem.Faults{Duplicate: 1})
	var last Applied
	for i := 0; i < 20; i++ {
		last = c.apply(follower, fmt.Sprintf("once-%d", i))
	}
	c.waitApplied(last.Index)
	seen := map[string]int{}
	for _, cmd := range c.nodes[lead].fsm.history() {
		seen[cmd]++
	}
	for cmd, n := range seen {
		if n != 1 {
			t.Fatalf("%q applied %d times", cmd, n)
		}
	}
	if len(seen) != 20 {
		t.Fatalf("%d distinct commands applied, want 20", len(seen))
	}
}
