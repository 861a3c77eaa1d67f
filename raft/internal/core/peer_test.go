package core

import (
	"errors"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestStepPeerRefusesBadInput(t *testing.T) {
	members := ids(3)
	newNode := func() *RawNode {
		st := newMemStorageWith(entriesWithTerms(t, members, 1, 1)...)
		return newTestRawNode(t, "n1", st, wire.HardState{Term: 2, Commit: 1}, nil)
	}
	snap := wire.SnapshotMeta{Index: 5, Term: 1, Config: voters(members...)}
	cases := []struct {
		name string
		m    wire.Message
		want error
	}{
		{"local hup", wire.Message{Type: wire.MsgHup, From: "n2", To: "n1"}, ErrStepLocalMsg},
		{"local storage ack", wire.Message{Type: wire.MsgStorageAppendResp, From: "n2", To: "n1", Index: 9}, ErrStepLocalMsg},
		{"local snap status", wire.Message{Type: wire.MsgSnapStatus, From: "n2", To: "n1"}, ErrStepLocalMsg},
		{"unknown type", wire.Message{Type: 200, From: "n2", To: "n1"}, ErrInvalidMessage},
		{"no sender", wire.Message{Type: wire.MsgHeartbeat, To: "n1", Term: 1}, ErrUnknownPeer},
		{"from itself", wire.Message{Type: wire.MsgHeartbeat, From: "n1", To: "n1", Term: 1}, ErrUnknownPeer},
		{"for someone else", wire.Message{Type: wire.MsgHeartbeat, From: "n2", To: "n3", Term: 1}, ErrInvalidMessage},
		{"vote from a stranger", wire.Message{Type: wire.MsgVote, From: "x9", To: "n1", Term: 5, Index: 9, LogTerm: 5}, ErrUnknownPeer},
		{"proposal from a stranger", wire.Message{Type: wire.MsgProp, From: "x9", To: "n1", Entries: []wire.Entry{{}}}, ErrUnknownPeer},
		{"old leader stranger", wire.Message{Type: wire.MsgApp, From: "x9", To: "n1", Term: 1}, ErrUnknownPeer},
		{"vote without a term", wire.Message{Type: wire.MsgPreVote, From: "n2", To: "n1", Index: 3}, ErrInvalidMessage},
		{"append without a term", wire.Message{Type: wire.MsgApp, From: "n2", To: "n1"}, ErrInvalidMessage},
		{"snap without snapshot", wire.Message{Type: wire.MsgSnap, From: "n2", To: "n1", Term: 2}, ErrInvalidMessage},
		{"gap in entries", wire.Message{Type: wire.MsgApp, From: "n2", To: "n1", Term: 2, Index: 2, LogTerm: 1,
			Entries: []wire.Entry{{Index: 3, Term: 2}, {Index: 5, Term: 2}}}, ErrInvalidMessage},
		{"entries from a later term than the leader's", wire.Message{Type: wire.MsgApp, From: "n2", To: "n1", Term: 2, Index: 2, LogTerm: 1,
			Entries: []wire.Entry{{Index: 3, Term: 3}}}, ErrInvalidMessage},
		{"decreasing terms", wire.Message{Type: wire.MsgApp, From: "n2", To: "n1", Term: 3, Index: 2, LogTerm: 2,
			Entries: []wire.Entry{{Index: 3, Term: 1}}}, ErrInvalidMessage},
		{"config entry without config", wire.Message{Type: wire.MsgApp, From: "n2", To: "n1", Term: 2, Index: 2, LogTerm: 1,
			Entries: []wire.Entry{{Index: 3, Term: 2, Type: wire.EntryConfig}}}, ErrInvalidMessage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rn := newNode()
			rn.Ready() // entry 1 is committed and waits to be applied
			before := rn.Status()
			if err := rn.StepPeer(c.m); !errors.Is(err, c.want) {
				t.Fatalf("StepPeer: %v, want %v", err, c.want)
			}
			after := rn.Status()
			if after.HardState != before.HardState || after.LastIndex != before.LastIndex || rn.HasReady() {
				t.Fatalf("refused message changed state: %+v -> %+v", before.HardState, after.HardState)
			}
		})
	}
	// A snapshot message from a new leader not yet in our configuration is
	// accepted: that is how a joining server first hears.
	rn := newNode()
	if err := rn.StepPeer(wire.Message{Type: wire.MsgSnap, From: "x9", To: "n1", Term: 2, Snapshot: &snap}); err != nil {
		t.Fatalf("snapshot from a new leader: %v", err)
	}
}

func TestMessagesFromOlderTermsAreIgnoredOrAnswered(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 5, Commit: 1}, func(c *Config) { c.PreVote = true })
	// A stale append is answered with our term so the old leader steps
	// down; nothing of it is appended.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n2", To: "n1", Term: 3, Index: 2, LogTerm: 1,
		Entries: []wire.Entry{{Index: 3, Term: 3}}})
	rd := rn.Ready()
	if len(rd.Entries) != 0 {
		t.Fatalf("appended entries from an older term: %v", rd.Entries)
	}
	resp := filter(append(rd.Messages, rd.DurableMessages...), wire.MsgAppResp, "n2")
	if len(resp) != 1 || resp[0].Term != 5 {
		t.Fatalf("answers %v, want one MsgAppResp carrying term 5", resp)
	}
	// A stale vote answer counts for nothing.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgVoteResp, From: "n2", To: "n1", Term: 4})
	if rn.HasReady() {
		t.Fatalf("stale vote answer produced work: %+v", rn.Ready())
	}
}

func TestAppendBeyondOurLogIsRejectedWithHint(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 1, 1)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1, Commit: 1}, nil)
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 2, Index: 9, LogTerm: 2,
		Entries: []wire.Entry{{Index: 10, Term: 2}}})
	rd := rn.Ready()
	resp := filter(rd.DurableMessages, wire.MsgAppResp, "n1")
	if len(resp) != 1 || !resp[0].Reject || resp[0].Index != 9 || resp[0].RejectHint != 3 || resp[0].LogTerm != 1 {
		t.Fatalf("answers %v, want a rejection of 9 hinting (3, 1)", resp)
	}
	if len(rd.Entries) != 0 {
		t.Fatalf("appended %v past a gap", rd.Entries)
	}
}

func TestAppendConflictingWithCommittedEntriesIsRefused(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 2, 2)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 3, Commit: 3}, nil)
	// A broken leader claims entry 3 has term 3: entry 3 is committed here.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 3, Index: 3, LogTerm: 2,
		Entries: []wire.Entry{{Index: 4, Term: 3}}})
	rn.Ready()
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 3, Index: 2, LogTerm: 2,
		Entries: []wire.Entry{{Index: 3, Term: 3}}})
	rd := rn.Ready()
	if len(rd.Entries) != 0 {
		t.Fatalf("overwrote a committed entry: %v", rd.Entries)
	}
	if tm, _ := st.Term(3); tm != 2 {
		t.Fatalf("entry 3 has term %d, want 2", tm)
	}
}
