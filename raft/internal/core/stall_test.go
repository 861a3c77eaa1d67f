package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
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

func TestGroupedAcknowledgementClearsEveryEarlierPendingWrite(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1, Commit: 1}, func(c *Config) { c.DiskStallTicks = 3 })
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 2, Index: 1, LogTerm: 1,
		Entries: []wire.Entry{{Index: 2, Term: 2}, {Index: 3, Term: 2}, {Index: 4, Term: 2}}})
	rd1 := rn.Ready()
	rn.Tick()
	// Index 3 onwards is overwritten before the first write completes.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n3", To: "n2", Term: 3, Index: 2, LogTerm: 2,
		Entries: []wire.Entry{{Index: 3, Term: 3}}})
	rd2 := rn.Ready()
	// One grouped write, one acknowledgement of its last entry.
	st.write(rd1.Entries)
	st.write(rd2.Entries)
	_ = rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: 3, LogTerm: 3})
	if n := len(rn.raft.pendingWrites); n != 0 {
		t.Fatalf("%d writes still pending after the grouped acknowledgement", n)
	}
	if s := rn.Status(); s.StableIndex != 3 {
		t.Fatalf("stable index %d, want 3", s.StableIndex)
	}
}
