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
