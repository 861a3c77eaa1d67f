package core

import (
	"testing"
)

func TestLeaderWithStalledDiskStepsDown(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.DiskStallTicks = 5 })
	electAndSettle(t, nw, "n1")
	nw.node("n1").stallDisk = true
	_ = nw.node("n1").rn.Propose(wireEntry("x"))
	nw.stabilize()
	for i := 0; i < 4; i++ {
		nw.node("n1").rn.Tick()
		nw.stabilize()
	}
	if nw.state("n1") != StateLeader {
		t.Fatal("stepped down before the stall limit")
	}
	nw.node("n1").rn.Tick()
	nw.stabilize()
	if nw.state("n1") != StateFollower || nw.term("n1") != 2 {
		t.Fatalf("stalled leader is %v in term %d, want a follower in the same term", nw.state("n1"), nw.term("n1"))
	}
	// A node with a healthy disk takes over while n1's disk is still stuck.
	nw.tickUntil(100, func() bool { l := nw.leader(); return l == "n2" || l == "n3" })
	if err := nw.propose(nw.leader(), "y"); err != nil {
		t.Fatal(err)
	}
	// n1's disk recovers; it catches up with the new leader.
	nw.node("n1").stallDisk = false
	nw.tick()
	nw.tick()
	nw.checkLogsMatch()
	if got, want := nw.commit("n1"), nw.commit(nw.leader()); got != want {
		t.Fatalf("n1 commit %d after recovery, want %d", got, want)
	}
}

func TestLeaderWithHealthyDiskDoesNotStepDown(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.DiskStallTicks = 2 })
	electAndSettle(t, nw, "n1")
	for i := 0; i < 50; i++ {
		_ = nw.node("n1").rn.Propose(wireEntry("x"))
		nw.tick()
	}
	if nw.leader() != "n1" || nw.term("n1") != 2 {
		t.Fatalf("leader %q term %d, want n1 undisturbed", nw.leader(), nw.term("n1"))
	}
}
