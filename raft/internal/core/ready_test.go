package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestReadyHandsOverItsContentsOnce(t *testing.T) {
	nw := newNetwork(t, ids(1), nil)
	rn := nw.node("n1").rn
	_ = rn.Campaign()
	if !rn.HasReady() {
		t.Fatal("no Ready after a campaign")
	}
	rd := rn.Ready()
	if rd.SoftState == nil || rd.SoftState.State != StateLeader || len(rd.Entries) != 1 || rd.Entries[0].Type != wire.EntryNoop {
		t.Fatalf("first Ready %+v, want leader soft state and the no-op", rd)
	}
	if rn.HasReady() {
		t.Fatalf("second Ready not empty: %+v", rn.Ready())
	}
	// Committed entries appear only once the write is reported durable.
	nw.node("n1").store.write(rd.Entries)
	_ = rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: 2, LogTerm: 2})
	rd = rn.Ready()
	if len(rd.CommittedEntries) != 2 || rd.HardState.Commit != 2 || rd.MustSync {
		t.Fatalf("Ready %+v, want entries 1-2 committed and no sync for a commit change alone", rd)
	}
	if rn.HasReady() {
		t.Fatal("committed entries handed out twice")
	}
}

func TestStaleStorageAckAfterOverwriteDoesNotMarkStable(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1, Commit: 1}, nil)
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 2, Index: 1, LogTerm: 1,
		Entries: []wire.Entry{{Index: 2, Term: 2}, {Index: 3, Term: 2}}})
	rd1 := rn.Ready()
	// Before that write is durable, a new leader overwrites index 3.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n3", To: "n2", Term: 3, Index: 2, LogTerm: 2, Commit: 3,
		Entries: []wire.Entry{{Index: 3, Term: 3}}})
	rd2 := rn.Ready()
	if len(rd2.Entries) != 1 || rd2.Entries[0].Term != 3 {
		t.Fatalf("second Ready entries %v, want (3, 3)", rd2.Entries)
	}
	st.write(rd1.Entries)
	_ = rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: 3, LogTerm: 2})
	if s := rn.Status(); s.StableIndex != 1 {
		t.Fatalf("stable index %d after an ack of an overwritten entry, want 1", s.StableIndex)
	}
	if rd := rn.Ready(); len(rd.CommittedEntries) != 0 && rd.CommittedEntries[len(rd.CommittedEntries)-1].Index > 1 {
		t.Fatalf("handed out %v before the overwrite is durable", rd.CommittedEntries)
	}
	st.write(rd2.Entries)
	_ = rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: 3, LogTerm: 3})
	rd := rn.Ready()
	// (Entry 1 was handed out with the first Ready.)
	if s := rn.Status(); s.StableIndex != 3 || len(rd.CommittedEntries) != 2 || rd.CommittedEntries[1].Term != 3 {
		t.Fatalf("stable %d committed %v, want entries 2-3 with (3, 3)", s.StableIndex, rd.CommittedEntries)
	}
}

func TestMaxSizePerMsgSplitsAppends(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, func(c *Config) { c.MaxSizePerMsg = 200 })
	makeLeader(t, rn, st)
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 2})
	drain(t, rn, st)
	for i := 0; i < 10; i++ {
		_ = rn.Propose(wire.Entry{Data: make([]byte, 100)})
	}
	_ = rn.StepPeer(wire.Message{Type: wire.MsgHeartbeatResp, From: "n2", To: "n1", Term: 2})
	apps := filter(drain(t, rn, st), wire.MsgApp, "n2")
	total := 0
	for _, m := range apps {
		if len(m.Entries) > 2 {
			t.Fatalf("append of %d entries of ~124 bytes over a 200-byte limit", len(m.Entries))
		}
		total += len(m.Entries)
	}
	if total != 10 {
		t.Fatalf("%d entries sent, want 10", total)
	}
}

func TestInvalidConfigIsRefused(t *testing.T) {
	st := newMemStorage()
	bad := []Config{
		{Storage: st},
		{ID: "n1"},
		{ID: "n1", Storage: st, ElectionTick: 2, HeartbeatTick: 2},
		{ID: "n1", Storage: st, ReadOnlyOption: ReadOnlyLeaseBased},
	}
	for i, c := range bad {
		if _, err := NewRawNode(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	// Hard state committing past the log.
	c := testConfig("n1", newMemStorageWith(mustBootstrap(t, "n1")))
	c.HardState = wire.HardState{Term: 1, Commit: 5}
	if _, err := NewRawNode(c); err == nil {
		t.Error("commit beyond the log accepted")
	}
}

func TestRestartAfterHardStateWriteLostTakesTheLogsTerm(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 4)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 3, Vote: "n2", Commit: 1}, nil)
	if s := rn.Status().HardState; s.Term != 4 || s.Vote != None {
		t.Fatalf("hard state %+v, want term 4 with no vote", s)
	}
}

func TestMaxCommittedSizePerReadySplitsApplying(t *testing.T) {
	members := ids(3)
	terms := []uint64{1}
	for i := 0; i < 20; i++ {
		terms = append(terms, 1)
	}
	st := newMemStorageWith(entriesWithTerms(t, members, terms...)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1, Commit: 21}, func(c *Config) { c.MaxCommittedSizePerReady = 100 })
	var applied []uint64
	for i := 0; rn.HasReady(); i++ {
		if i > 100 {
			t.Fatal("Readys never end")
		}
		rd := rn.Ready()
		if len(rd.CommittedEntries) > 4 {
			t.Fatalf("%d entries of ~26 bytes in one Ready with a 100-byte limit", len(rd.CommittedEntries))
		}
		for _, e := range rd.CommittedEntries {
			applied = append(applied, e.Index)
		}
	}
	if len(applied) != 21 || applied[0] != 1 || applied[20] != 21 {
		t.Fatalf("applied %v, want 1..21 in order", applied)
	}
}

func TestUnreachableFollowerIsProbedAgain(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, nil)
	makeLeader(t, rn, st)
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 2})
	drain(t, rn, st)
	if s := rn.Status().Progress["n2"]; s.State != ProgressReplicate {
		t.Fatalf("n2 %+v, want replicate", s)
	}
	rn.ReportUnreachable("n2")
	if s := rn.Status().Progress["n2"]; s.State != ProgressProbe || s.Next != 3 {
		t.Fatalf("n2 %+v after unreachable, want probe from 3", s)
	}
}

func TestProposalDoesNotModifyTheCallersEntriesAndReadyEntriesAreStable(t *testing.T) {
	nw := newNetwork(t, ids(1), nil)
	nw.campaign("n1")
	rn := nw.node("n1").rn
	mine := []wire.Entry{{Data: []byte("a")}, {Data: []byte("b")}}
	if err := rn.Propose(mine...); err != nil {
		t.Fatal(err)
	}
	if mine[0].Index != 0 || mine[0].Term != 0 {
		t.Fatalf("caller's entry stamped: %+v", mine[0])
	}
	rd := rn.Ready()
	held := rd.Entries
	snapshot := append([]wire.Entry(nil), held...)
	// More proposals before the first write completes must not write into
	// the array the storage stage is holding.
	_ = rn.Propose(wire.Entry{Data: []byte("c")})
	_ = append(held, wire.Entry{Data: []byte("caller appends")})
	rd2 := rn.Ready()
	for i := range held {
		if held[i].Index != snapshot[i].Index || string(held[i].Data) != string(snapshot[i].Data) {
			t.Fatalf("a handed-out entry changed: %+v -> %+v", snapshot[i], held[i])
		}
	}
	if len(rd2.Entries) != 1 || string(rd2.Entries[0].Data) != "c" {
		t.Fatalf("second Ready entries %+v, want c", rd2.Entries)
	}
}
