package core

import (
	"fmt"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestRestartedClusterKeepsItsLogAndTerm(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	nw.campaign("n1")
	for i := 0; i < 5; i++ {
		_ = nw.propose("n1", fmt.Sprint(i))
	}
	before := nw.commit("n1")
	for _, id := range nw.ids {
		nw.restart(id, nil)
	}
	for _, id := range nw.ids {
		st := nw.node(id).rn.Status()
		if st.HardState.Term != 2 || st.HardState.Commit != before || st.SoftState.State != StateFollower {
			t.Fatalf("%s restarted as %+v %+v, want a follower in term 2 with commit %d", id, st.SoftState, st.HardState, before)
		}
	}
	nw.tickUntil(50, func() bool { return nw.leader() != None })
	_ = nw.propose(nw.leader(), "after")
	nw.checkLogsMatch()
	for _, id := range nw.ids {
		if got := nw.commit(id); got != before+2 {
			t.Fatalf("%s commit %d, want %d (new no-op and proposal)", id, got, before+2)
		}
	}
}

func TestFollowerBehindCompactedLogCatchesUpBySnapshot(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	nw.campaign("n1")
	nw.isolate("n3")
	for i := 0; i < 10; i++ {
		_ = nw.propose("n1", fmt.Sprint(i))
	}
	commit := nw.commit("n1")
	nw.node("n1").store.compact(commit, voters(ids(3)...))
	nw.heal()
	for i := 0; i < 3; i++ {
		nw.tick()
	}
	n3 := nw.node("n3")
	if got := n3.store.Snapshot().Index; got != commit {
		t.Fatalf("n3 installed snapshot at %d, want %d", got, commit)
	}
	if got := nw.commit("n3"); got != commit {
		t.Fatalf("n3 commit %d, want %d", got, commit)
	}
	if s := nw.node("n1").rn.Status().Progress["n3"]; s.State != ProgressReplicate || s.Match != commit {
		t.Fatalf("leader's progress of n3: %+v, want replicate at %d", s, commit)
	}
	_ = nw.propose("n1", "after-snapshot")
	if got := nw.appliedData("n3"); len(got) != 1 || got[0] != "after-snapshot" {
		t.Fatalf("n3 applied %v after its snapshot, want [after-snapshot]", got)
	}
	nw.checkLogsMatch()
}

func TestSnapshotAtOrBelowCommitIsNotInstalled(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 2, 2, 2)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 2, Commit: 3}, nil)
	old := wire.SnapshotMeta{Index: 3, Term: 2, Config: voters(members...)}
	_ = rn.StepPeer(wire.Message{Type: wire.MsgSnap, From: "n1", To: "n2", Term: 2, Snapshot: &old})
	rd := rn.Ready()
	if rd.Snapshot != nil {
		t.Fatalf("snapshot at %d installed over commit 3", rd.Snapshot.Index)
	}
	acks := filter(rd.DurableMessages, wire.MsgAppResp, "n1")
	if len(acks) != 1 || acks[0].Index != 3 {
		t.Fatalf("answers %v, want an ack of our commit index 3", acks)
	}
}

func TestNewerSnapshotIsInstalledAndAckedAfterDurable(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 2)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 2, Commit: 1}, nil)
	snap := wire.SnapshotMeta{ID: "s", Index: 10, Term: 3, Config: voters(members...)}
	_ = rn.StepPeer(wire.Message{Type: wire.MsgSnap, From: "n1", To: "n2", Term: 3, Snapshot: &snap})
	rd := rn.Ready()
	if rd.Snapshot == nil || rd.Snapshot.Index != 10 || !rd.MustSync {
		t.Fatalf("ready snapshot %v must sync %v, want the snapshot at 10", rd.Snapshot, rd.MustSync)
	}
	if len(filter(rd.Messages, wire.MsgAppResp, None)) != 0 {
		t.Fatal("snapshot acknowledged before it is durable")
	}
	acks := filter(rd.DurableMessages, wire.MsgAppResp, "n1")
	if len(acks) != 1 || acks[0].Index != 10 {
		t.Fatalf("durable answers %v, want an ack of 10", acks)
	}
	if len(rd.CommittedEntries) != 0 {
		t.Fatalf("committed entries %v handed out with a snapshot not yet installed", rd.CommittedEntries)
	}
	persist(t, rn, st, rd)
	s := rn.Status()
	if s.Applied != 10 || s.HardState.Commit != 10 || s.StableIndex != 10 || s.LastIndex != 10 {
		t.Fatalf("status after install %+v, want applied, commit, stable and last at 10", s)
	}
	// Entries after the snapshot now append and commit normally.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 3, Index: 10, LogTerm: 3, Commit: 11,
		Entries: []wire.Entry{{Index: 11, Term: 3, Data: []byte("x")}}})
	rd = rn.Ready()
	persist(t, rn, st, rd)
	rd = rn.Ready()
	if len(rd.CommittedEntries) != 1 || rd.CommittedEntries[0].Index != 11 {
		t.Fatalf("committed %v, want entry 11", rd.CommittedEntries)
	}
}

func TestSnapshotTransitionsFollowerProgress(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 1, 1, 1, 1)...)
	st.compact(4, voters(members...))
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1, Commit: 5}, nil)
	makeLeader(t, rn, st)
	// n2 answers the probe: its log ends at 1, below our first index.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 5, Reject: true, RejectHint: 1, LogTerm: 1})
	msgs := drain(t, rn, st)
	snaps := filter(msgs, wire.MsgSnap, "n2")
	if len(snaps) != 1 || snaps[0].Snapshot.Index != 4 {
		t.Fatalf("sent %v, want one MsgSnap at 4", snaps)
	}
	if s := rn.Status().Progress["n2"]; s.State != ProgressSnapshot {
		t.Fatalf("n2 progress %+v, want snapshot", s)
	}
	// Nothing else goes to n2 while the snapshot is in flight.
	_ = rn.Propose(wire.Entry{Data: []byte("x")})
	if n := len(filter(drain(t, rn, st), wire.MsgApp, "n2")); n != 0 {
		t.Fatalf("%d appends during a snapshot transfer", n)
	}
	// A failed transfer goes back to probing.
	rn.ReportSnapshot("n2", false)
	if s := rn.Status().Progress["n2"]; s.State != ProgressProbe {
		t.Fatalf("after a failed snapshot: %+v, want probe", s)
	}
	// The probe (after a heartbeat answer) again finds a snapshot needed;
	// this time the install succeeds and n2 acknowledges index 4.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgHeartbeatResp, From: "n2", To: "n1", Term: 2})
	if n := len(filter(drain(t, rn, st), wire.MsgSnap, "n2")); n != 1 {
		t.Fatalf("%d snapshots resent after the failure, want 1", n)
	}
	rn.ReportSnapshot("n2", true)
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 4})
	drain(t, rn, st)
	if s := rn.Status().Progress["n2"]; s.State != ProgressReplicate || s.Match < 4 {
		t.Fatalf("after the install: %+v, want replicate with match >= 4", s)
	}
}

func TestLearnerAddedAfterTheSnapshotAcceptsIt(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	for i := 0; i < 5; i++ {
		_ = nw.propose("n1", fmt.Sprint(i))
	}
	// The snapshot is taken before n4 is added: its configuration does not
	// list n4.
	nw.node("n1").store.compact(nw.commit("n1"), voters(ids(3)...))
	nw.add("n4", newMemStorage(), wire.HardState{}, nil)
	if err := nw.node("n1").rn.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n4"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	for i := 0; i < 3; i++ {
		nw.tick()
	}
	n4 := nw.node("n4")
	if n4.store.Snapshot().IsEmpty() {
		t.Fatal("the new learner did not install the snapshot")
	}
	if got, want := nw.commit("n4"), nw.commit("n1"); got != want {
		t.Fatalf("learner commit %d, want %d", got, want)
	}
	if s := n4.rn.Status(); !s.Config.IsVoter("n1") || len(s.Config.Learners()) != 1 {
		t.Fatalf("learner's config %+v, want the one that added it", s.Config)
	}
}
