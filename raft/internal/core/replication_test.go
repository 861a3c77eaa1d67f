package core

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestReplicationConvergesOverFigure7Logs(t *testing.T) {
	members := ids(3)
	leaderTerms := []uint64{1, 1, 1, 4, 4, 5, 5, 6, 6, 6}
	followers := map[string][]uint64{
		"a": {1, 1, 1, 4, 4, 5, 5, 6, 6},
		"b": {1, 1, 1, 4},
		"c": {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},
		"d": {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},
		"e": {1, 1, 1, 4, 4, 4, 4},
		"f": {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},
	}
	for name, terms := range followers {
		t.Run(name, func(t *testing.T) {
			nw := &network{t: t, nodes: map[wire.NodeID]*testNode{}, cut: map[[2]wire.NodeID]bool{}}
			nw.add("n1", newMemStorageWith(entriesWithTerms(t, members, leaderTerms...)...), wire.HardState{Term: 7}, nil)
			nw.add("n2", newMemStorageWith(entriesWithTerms(t, members, terms...)...), wire.HardState{Term: 7}, nil)
			nw.add("n3", newMemStorageWith(entriesWithTerms(t, members, leaderTerms...)...), wire.HardState{Term: 7}, nil)
			nw.campaign("n1")
			if nw.leader() != "n1" || nw.term("n1") != 8 {
				t.Fatalf("leader %s term %d, want n1 in term 8", nw.leader(), nw.term("n1"))
			}
			want := entriesWithTerms(t, members, append(slices.Clone(leaderTerms), 8)...)
			got, _ := nw.node("n2").store.Entries(1, nw.node("n2").store.LastIndex()+1, 0)
			if len(got) != len(want) {
				t.Fatalf("follower log has %d entries, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Term != want[i].Term || (i < len(leaderTerms) && string(got[i].Data) != string(want[i].Data)) {
					t.Fatalf("entry %d: term %d data %v, want term %d data %v", i+1, got[i].Term, got[i].Data, want[i].Term, want[i].Data)
				}
			}
			// Fast back-off: at most one rejection per distinct term the
			// follower's log diverges over, not one per entry.
			rejects := 0
			for _, m := range nw.sent {
				if m.Type == wire.MsgAppResp && m.From == "n2" && m.Reject {
					rejects++
				}
			}
			if rejects > 3 {
				t.Fatalf("%d rejections to converge, want <= 3", rejects)
			}
			if got := nw.commit("n2"); got != 11 {
				t.Fatalf("follower commit = %d, want 11", got)
			}
		})
	}
}

func TestBackOffCostsRoundTripsPerTermNotPerEntry(t *testing.T) {
	members := ids(3)
	// The follower holds 200 entries of term 3 the leader never had.
	leader := []uint64{1, 2}
	follower := []uint64{1, 2}
	for i := 0; i < 200; i++ {
		leader = append(leader, 4)
		follower = append(follower, 3)
	}
	nw := &network{t: t, nodes: map[wire.NodeID]*testNode{}, cut: map[[2]wire.NodeID]bool{}}
	nw.add("n1", newMemStorageWith(entriesWithTerms(t, members, leader...)...), wire.HardState{Term: 4}, nil)
	nw.add("n2", newMemStorageWith(entriesWithTerms(t, members, follower...)...), wire.HardState{Term: 4}, nil)
	nw.add("n3", newMemStorageWith(entriesWithTerms(t, members, leader...)...), wire.HardState{Term: 4}, nil)
	nw.campaign("n1")
	rejects := 0
	for _, m := range nw.sent {
		if m.Type == wire.MsgAppResp && m.From == "n2" && m.Reject {
			rejects++
		}
	}
	if rejects > 2 {
		t.Fatalf("%d rejections over one divergent term, want <= 2", rejects)
	}
	nw.checkLogsMatch()
	if got, want := nw.node("n2").store.LastIndex(), nw.node("n1").store.LastIndex(); got != want {
		t.Fatalf("follower last index %d, want %d", got, want)
	}
}

func TestLeaderCommitsOnlyEntriesOfItsTermByCounting(t *testing.T) {
	// Raft Figure 8: the leader of term 4 holds entry 2 from term 2. Even
	// once a majority holds entry 2, it is not committed by counting; it
	// commits only with the leader's own no-op (index 3, term 4).
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 2)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 3, Commit: 1}, nil)
	makeLeader(t, rn, st)
	if got := rn.Status().HardState.Term; got != 4 {
		t.Fatalf("term %d, want 4", got)
	}
	for _, from := range []wire.NodeID{"n2", "n3"} {
		_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: from, To: "n1", Term: 4, Index: 2})
	}
	drain(t, rn, st)
	if got := rn.Status().HardState.Commit; got != 1 {
		t.Fatalf("commit = %d after a majority holds the term-2 entry, want 1", got)
	}
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 4, Index: 3})
	drain(t, rn, st)
	if got := rn.Status().HardState.Commit; got != 3 {
		t.Fatalf("commit = %d after a majority holds the term-4 no-op, want 3", got)
	}
}

func TestLeaderCountsItselfOnlyOnceDurable(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, nil)
	makeLeader(t, rn, st)
	for _, from := range []wire.NodeID{"n2", "n3"} {
		_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: from, To: "n1", Term: 2, Index: 2})
	}
	drain(t, rn, st)
	// Propose, but do not report the leader's own write durable.
	if err := rn.Propose(wire.Entry{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	rd := rn.Ready()
	if len(rd.Entries) != 1 || rd.Entries[0].Index != 3 {
		t.Fatalf("entries %v, want index 3", rd.Entries)
	}
	if len(filter(rd.Messages, wire.MsgApp, None)) != 2 {
		t.Fatalf("leader should send its entries in parallel with writing them: %v", rd.Messages)
	}
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 3})
	if got := rn.Status().HardState.Commit; got != 2 {
		t.Fatalf("commit = %d with one follower and a non-durable leader, want 2", got)
	}
	// Now the leader's write becomes durable: leader + n2 are a quorum.
	st.write(rd.Entries)
	_ = rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: 3, LogTerm: 2})
	if got := rn.Status().HardState.Commit; got != 3 {
		t.Fatalf("commit = %d once the leader's write is durable, want 3", got)
	}
}

func TestCommittedEntriesNeverExceedLocalDurability(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, nil)
	makeLeader(t, rn, st)
	_ = rn.Propose(wire.Entry{Data: []byte("x")})
	rd := rn.Ready() // entry 3 handed out, not durable
	// Both followers hold it: it is committed, but not durable here.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 3})
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n3", To: "n1", Term: 2, Index: 3})
	if got := rn.Status().HardState.Commit; got != 3 {
		t.Fatalf("commit = %d, want 3", got)
	}
	rd2 := rn.Ready()
	for _, e := range rd2.CommittedEntries {
		if e.Index > 2 {
			t.Fatalf("entry %d handed out for applying before it is durable locally", e.Index)
		}
	}
	st.write(rd.Entries)
	_ = rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: 3, LogTerm: 2})
	rd3 := rn.Ready()
	if n := len(rd3.CommittedEntries); n == 0 || rd3.CommittedEntries[n-1].Index != 3 {
		t.Fatalf("committed entries %v once durable, want up to 3", rd3.CommittedEntries)
	}
}

func TestFollowerAcksOnlyAfterDurable(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1}, nil)
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 2, Index: 1, LogTerm: 1,
		Entries: []wire.Entry{{Index: 2, Term: 2}}})
	rd := rn.Ready()
	if len(filter(rd.Messages, wire.MsgAppResp, None)) != 0 {
		t.Fatal("append acknowledged before it is durable")
	}
	acks := filter(rd.DurableMessages, wire.MsgAppResp, "n1")
	if len(acks) != 1 || acks[0].Index != 2 || acks[0].Reject {
		t.Fatalf("durable acks %v, want one ack of index 2", acks)
	}
	if len(rd.Entries) != 1 || !rd.MustSync {
		t.Fatalf("entries %v must sync %v", rd.Entries, rd.MustSync)
	}
}

func TestStaleAppendDoesNotTruncateMatchingEntries(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 2, 2, 2, 2)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 2, Commit: 1}, nil)
	// A delayed append of entries 2..3 arrives after 2..5 were appended.
	stale := wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 2, Index: 1, LogTerm: 1, Commit: 1,
		Entries: []wire.Entry{{Index: 2, Term: 2, Data: []byte{2, 2}}, {Index: 3, Term: 2, Data: []byte{3, 2}}}}
	if err := rn.StepPeer(stale); err != nil {
		t.Fatal(err)
	}
	msgs := drain(t, rn, st)
	if got := rn.Status().LastIndex; got != 5 {
		t.Fatalf("last index %d after a stale append, want 5 (nothing truncated)", got)
	}
	acks := filter(msgs, wire.MsgAppResp, "n1")
	if len(acks) != 1 || acks[0].Index != 3 || acks[0].Reject {
		t.Fatalf("acks %v, want an ack of index 3", acks)
	}
	// A real conflict at index 4 truncates from there.
	conflict := wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 3, Index: 3, LogTerm: 2,
		Entries: []wire.Entry{{Index: 4, Term: 3}}}
	_ = rn.StepPeer(conflict)
	drain(t, rn, st)
	if got := rn.Status().LastIndex; got != 4 {
		t.Fatalf("last index %d after a conflicting append, want 4", got)
	}
	if tm, _ := st.Term(4); tm != 3 || st.LastIndex() != 4 {
		t.Fatalf("storage holds term %d at 4 and last %d, want term 3 and last 4", tm, st.LastIndex())
	}
}

func TestFollowerCommitNeverBeyondWhatMatchesTheLeader(t *testing.T) {
	members := ids(3)
	// Entries 3..4 of term 2 are an uncommitted tail that the leader of
	// term 3 does not have.
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 2, 2, 2)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 2, Commit: 1}, nil)
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 3, Index: 2, LogTerm: 2, Commit: 10})
	if got := rn.Status().HardState.Commit; got != 2 {
		t.Fatalf("commit = %d, want 2 (the last index the append vouched for)", got)
	}
}

func TestInflightWindowBoundsPipelinedAppends(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, func(c *Config) { c.MaxInflightMsgs = 3 })
	makeLeader(t, rn, st)
	// n2 acknowledges the no-op: it moves to replicate.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 2})
	drain(t, rn, st)
	if s := rn.Status().Progress["n2"]; s.State != ProgressReplicate {
		t.Fatalf("n2 progress %+v, want replicate", s)
	}
	var apps []wire.Message
	for i := 0; i < 10; i++ {
		_ = rn.Propose(wire.Entry{Data: []byte(fmt.Sprint(i))})
		apps = append(apps, filter(drain(t, rn, st), wire.MsgApp, "n2")...)
	}
	if len(apps) != 3 {
		t.Fatalf("%d appends in flight to n2, want the window of 3", len(apps))
	}
	if s := rn.Status().Progress["n2"]; s.Inflight != 3 {
		t.Fatalf("inflight %d, want 3", s.Inflight)
	}
	// Acknowledging the first frees a slot and the rest is sent at once.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: apps[0].Index + 1})
	more := filter(drain(t, rn, st), wire.MsgApp, "n2")
	if len(more) == 0 {
		t.Fatal("no append after a slot was freed")
	}
	last := more[len(more)-1]
	if got := last.Index + uint64(len(last.Entries)); got != 12 {
		t.Fatalf("appends reach index %d, want 12", got)
	}
}

func TestProbeSendsOneAppendUntilAnswered(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, nil)
	msgs := makeLeader(t, rn, st)
	if n := len(filter(msgs, wire.MsgApp, "n2")); n != 1 {
		t.Fatalf("%d appends to a probing follower, want 1", n)
	}
	_ = rn.Propose(wire.Entry{Data: []byte("x")})
	if n := len(filter(drain(t, rn, st), wire.MsgApp, "n2")); n != 0 {
		t.Fatalf("%d more appends while the probe is unanswered, want 0", n)
	}
	// A heartbeat answer unpauses the probe.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgHeartbeatResp, From: "n2", To: "n1", Term: 2})
	if n := len(filter(drain(t, rn, st), wire.MsgApp, "n2")); n != 1 {
		t.Fatalf("%d appends after a heartbeat answer, want 1", n)
	}
}

func TestProposalsAreForwardedToTheLeader(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	nw.campaign("n1")
	if err := nw.propose("n2", "via-n2"); err != nil {
		t.Fatal(err)
	}
	for _, id := range nw.ids {
		if got := nw.appliedData(id); !slices.Equal(got, []string{"via-n2"}) {
			t.Fatalf("%s applied %v", id, got)
		}
	}
}

func TestProposalsDroppedWithoutLeaderOrForwarding(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	if err := nw.node("n2").rn.Propose(wire.Entry{Data: []byte("x")}); err != ErrProposalDropped {
		t.Fatalf("proposal with no leader: %v, want ErrProposalDropped", err)
	}
	nw2 := newNetwork(t, ids(3), func(c *Config) { c.DisableProposalForwarding = true })
	nw2.campaign("n1")
	if err := nw2.node("n2").rn.Propose(wire.Entry{Data: []byte("x")}); err != ErrProposalDropped {
		t.Fatalf("proposal with forwarding disabled: %v, want ErrProposalDropped", err)
	}
	if err := nw2.propose("n1", "y"); err != nil {
		t.Fatalf("proposal on the leader: %v", err)
	}
}

func TestManyProposalsReplicateEverywhereInOrder(t *testing.T) {
	nw := newNetwork(t, ids(5), nil)
	nw.campaign("n3")
	var want []string
	for i := 0; i < 100; i++ {
		d := fmt.Sprint(i)
		want = append(want, d)
		_ = nw.node("n3").rn.Propose(wire.Entry{Data: []byte(d)})
		if i%7 == 0 {
			nw.stabilize()
		}
	}
	nw.stabilize()
	for _, id := range nw.ids {
		if got := nw.appliedData(id); !slices.Equal(got, want) {
			t.Fatalf("%s applied %d entries, want %d in order", id, len(got), len(want))
		}
	}
	nw.checkLogsMatch()
}

func TestFollowerFoldsAcknowledgementsOfOneReady(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1, Commit: 1}, nil)
	rn.Ready()
	app := func(prev uint64, terms ...uint64) {
		m := wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 2, Index: prev, LogTerm: 1}
		if prev > 1 {
			m.LogTerm = 2
		}
		for i, tm := range terms {
			m.Entries = append(m.Entries, wire.Entry{Index: prev + 1 + uint64(i), Term: tm})
		}
		if err := rn.StepPeer(m); err != nil {
			t.Fatal(err)
		}
	}
	app(1, 2)
	app(2, 2)
	app(3, 2, 2)
	acks := filter(rn.Ready().DurableMessages, wire.MsgAppResp, "n1")
	if len(acks) != 1 || acks[0].Index != 5 || acks[0].Reject {
		t.Fatalf("acks %v, want a single acknowledgement of 5", acks)
	}
	// A rejection is never folded, and what follows it is not folded into it.
	app(9, 2)
	app(5, 2)
	acks = filter(rn.Ready().DurableMessages, wire.MsgAppResp, "n1")
	if len(acks) != 2 || !acks[0].Reject || acks[1].Reject || acks[1].Index != 6 {
		t.Fatalf("acks %v, want a rejection of 9 then an acknowledgement of 6", acks)
	}
}
