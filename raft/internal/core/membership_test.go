package core

import (
	"errors"
	"slices"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// electAndSettle elects id and delivers its no-op everywhere.
func electAndSettle(t *testing.T, nw *network, id wire.NodeID) {
	t.Helper()
	nw.campaign(id)
	if nw.leader() != id {
		t.Fatalf("%s not elected", id)
	}
}

func TestAddLearnerReplicatesButNeverVotesOrCounts(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.add("n4", newMemStorage(), wire.HardState{}, nil)
	if err := nw.node("n1").rn.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n4", Address: "n4:1"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	for i := 0; i < 3; i++ {
		nw.tick()
	}
	_ = nw.propose("n1", "x")
	if got := nw.appliedData("n4"); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("learner applied %v, want [x]", got)
	}
	st := nw.node("n1").rn.Status()
	if pr := st.Progress["n4"]; !pr.IsLearner {
		t.Fatalf("leader sees n4 as %+v, want a learner", pr)
	}
	// Commit does not wait for the learner.
	nw.isolate("n4")
	_ = nw.propose("n1", "y")
	if got := nw.appliedData("n1"); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("leader applied %v without the learner, want [x y]", got)
	}
	// A learner never campaigns, however long it hears nothing.
	term := nw.term("n4")
	for i := 0; i < 60; i++ {
		nw.node("n4").rn.Tick()
		nw.stabilize()
	}
	if nw.state("n4") != StateFollower || nw.term("n4") != term {
		t.Fatalf("learner is %v in term %d, want a follower in term %d", nw.state("n4"), nw.term("n4"), term)
	}
}

func TestPromoteLearnerToVoter(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.add("n4", newMemStorage(), wire.HardState{}, nil)
	leader := nw.node("n1").rn
	if err := leader.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n4"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	nw.tick()
	if err := leader.ProposeConfChange(ConfChange{Op: AddVoter, ID: "n4"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	nw.tick()
	for _, id := range nw.ids {
		st := nw.node(id).rn.Status()
		if !st.Config.IsVoter("n4") || len(st.Config.Voters()) != 4 {
			t.Fatalf("%s config %+v, want 4 voters including n4", id, st.Config)
		}
	}
	// With 4 voters a quorum is 3: the leader and one follower are not
	// enough.
	nw.isolate("n3")
	nw.isolate("n4")
	before := nw.commit("n1")
	_ = nw.propose("n1", "z")
	if got := nw.commit("n1"); got != before {
		t.Fatalf("committed %d with 2 of 4 voters", got)
	}
	nw.heal()
	nw.tick()
	if got := nw.commit("n1"); got <= before {
		t.Fatal("no commit after the heal")
	}
}

func TestMembershipChangesOneAtATime(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	leader := nw.node("n1").rn
	if err := leader.Campaign(); err != nil {
		t.Fatal(err)
	}
	// Elected but its no-op is not committed yet: no change allowed.
	for i := 0; i < 10 && leader.Status().SoftState.State != StateLeader; i++ {
		nw.handle(nw.node("n1"))
		msgs := nw.inbox
		nw.inbox = nil
		for _, m := range msgs {
			if m.Type == wire.MsgVote {
				nw.deliver(m)
			}
		}
		for _, id := range []wire.NodeID{"n2", "n3"} {
			nw.handle(nw.node(id))
		}
		msgs = nw.inbox
		nw.inbox = nil
		for _, m := range msgs {
			if m.Type == wire.MsgVoteResp {
				nw.deliver(m)
			}
		}
	}
	if leader.Status().SoftState.State != StateLeader {
		t.Fatal("n1 not elected")
	}
	if err := leader.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n4"}); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("change before the first commit of the term: %v, want ErrConfChangePending", err)
	}
	nw.inbox = nil
	nw.stabilize()
	nw.tick()
	if err := leader.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n4"}); err != nil {
		t.Fatalf("first change: %v", err)
	}
	if err := leader.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n5"}); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("second change while the first is uncommitted: %v, want ErrConfChangePending", err)
	}
	nw.stabilize()
	if err := leader.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n5"}); err != nil {
		t.Fatalf("second change after the first committed: %v", err)
	}
	if err := nw.node("n2").rn.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n6"}); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("change on a follower: %v, want ErrProposalDropped", err)
	}
}

func TestInvalidMembershipChangesAreRefused(t *testing.T) {
	c := voters("n1", "n2")
	c.Servers = append(c.Servers, wire.Server{ID: "l1", Role: wire.Learner})
	cases := []struct {
		name string
		cc   ConfChange
	}{
		{"add present learner", ConfChange{Op: AddLearner, ID: "n2"}},
		{"add present voter", ConfChange{Op: AddVoter, ID: "n1"}},
		{"demote learner", ConfChange{Op: DemoteVoter, ID: "l1"}},
		{"remove absent", ConfChange{Op: RemoveServer, ID: "n9"}},
		{"empty id", ConfChange{Op: AddVoter}},
		{"duplicate address", ConfChange{Op: AddVoter, ID: "n3", Address: "n1:1"}},
		{"unknown op", ConfChange{Op: 99, ID: "n3"}},
	}
	for _, tc := range cases {
		if _, err := applyConfChange(c, tc.cc); !errors.Is(err, ErrInvalidConfChange) {
			t.Errorf("%s: %v, want ErrInvalidConfChange", tc.name, err)
		}
	}
	one := voters("n1")
	if _, err := applyConfChange(one, ConfChange{Op: RemoveServer, ID: "n1"}); !errors.Is(err, ErrInvalidConfChange) {
		t.Errorf("removing the last voter: %v, want ErrInvalidConfChange", err)
	}
	if _, err := applyConfChange(one, ConfChange{Op: DemoteVoter, ID: "n1"}); !errors.Is(err, ErrInvalidConfChange) {
		t.Errorf("demoting the last voter: %v, want ErrInvalidConfChange", err)
	}
	got, err := applyConfChange(c, ConfChange{Op: AddVoter, ID: "l1"})
	if err != nil || !got.IsVoter("l1") {
		t.Fatalf("promote: %+v %v", got, err)
	}
	if c.IsVoter("l1") {
		t.Fatal("applyConfChange modified its input")
	}
}

func TestRemoveFollower(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	if err := nw.node("n1").rn.ProposeConfChange(ConfChange{Op: RemoveServer, ID: "n3"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	st := nw.node("n1").rn.Status()
	if _, ok := st.Config.Server("n3"); ok || len(st.Progress) != 2 {
		t.Fatalf("leader config %+v progress %v, want n3 gone", st.Config, st.Progress)
	}
	// Two voters now: commit needs both n1 and n2.
	nw.isolate("n3")
	_ = nw.propose("n1", "x")
	if got := nw.appliedData("n2"); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("n2 applied %v", got)
	}
	// The removed node, once it has the entry removing it, never campaigns.
	nw.heal()
	for i := 0; i < 60; i++ {
		nw.node("n3").rn.Tick()
		nw.stabilize()
	}
	if nw.state("n3") != StateFollower || nw.term("n3") != 2 {
		t.Fatalf("removed node is %v in term %d, want a quiet follower in term 2", nw.state("n3"), nw.term("n3"))
	}
}

func TestRemovedLeaderHandsOverAndStepsDown(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	_ = nw.propose("n1", "a")
	if err := nw.node("n1").rn.ProposeConfChange(ConfChange{Op: RemoveServer, ID: "n1"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	if nw.state("n1") == StateLeader {
		t.Fatal("removed leader still leads after the removal committed")
	}
	// MsgTimeoutNow made a remaining voter campaign at once: no ticks.
	lead := nw.leader()
	if lead != "n2" && lead != "n3" {
		t.Fatalf("leader after the removal is %q, want n2 or n3", lead)
	}
	for _, m := range nw.sent {
		if m.Type == wire.MsgTimeoutNow && m.From == "n1" {
			goto handedOver
		}
	}
	t.Fatal("no MsgTimeoutNow sent by the removed leader")
handedOver:
	_ = nw.propose(lead, "b")
	for _, id := range []wire.NodeID{"n2", "n3"} {
		if got := nw.appliedData(id); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("%s applied %v", id, got)
		}
	}
}

func TestDemotedLeaderStepsDown(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	if err := nw.node("n1").rn.ProposeConfChange(ConfChange{Op: DemoteVoter, ID: "n1"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	if lead := nw.leader(); lead == "n1" || lead == None {
		t.Fatalf("leader %q after demoting n1", lead)
	}
	_ = nw.propose(nw.leader(), "x")
	if got := nw.appliedData("n1"); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("demoted n1 (now a learner) applied %v", got)
	}
}

func TestTruncatedConfigEntryFallsBackToPreviousConfig(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1, Commit: 1}, nil)
	bigger := voters("n1", "n2", "n3", "n4")
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Term: 2, Index: 1, LogTerm: 1, Commit: 1,
		Entries: []wire.Entry{{Index: 2, Term: 2, Type: wire.EntryConfig, Config: &bigger}}})
	drain(t, rn, st)
	if s := rn.Status(); len(s.Config.Voters()) != 4 || s.ConfigIndex != 2 {
		t.Fatalf("config %+v at %d, want the uncommitted 4-voter config at 2 in force", s.Config, s.ConfigIndex)
	}
	// A new leader of term 3 never had entry 2: it is overwritten.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgApp, From: "n3", To: "n2", Term: 3, Index: 1, LogTerm: 1, Commit: 1,
		Entries: []wire.Entry{{Index: 2, Term: 3, Type: wire.EntryNoop}}})
	drain(t, rn, st)
	if s := rn.Status(); len(s.Config.Voters()) != 3 || s.ConfigIndex != 1 {
		t.Fatalf("config %+v at %d, want the bootstrap config back", s.Config, s.ConfigIndex)
	}
}

func TestConfigurationSurvivesRestart(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.add("n4", newMemStorage(), wire.HardState{}, nil)
	_ = nw.node("n1").rn.ProposeConfChange(ConfChange{Op: AddLearner, ID: "n4"})
	nw.stabilize()
	nw.tick()
	for _, id := range nw.ids {
		n := nw.restart(id, nil)
		if s := n.rn.Status(); len(s.Config.Servers) != 4 || len(s.Config.Learners()) != 1 {
			t.Fatalf("%s restarted with config %+v", id, s.Config)
		}
	}
}

func TestBlankNodeWaitsForALeader(t *testing.T) {
	rn := newTestRawNode(t, "n9", newMemStorage(), wire.HardState{}, nil)
	for i := 0; i < 100; i++ {
		rn.Tick()
	}
	if s := rn.Status(); s.SoftState.State != StateFollower || s.HardState.Term != 0 {
		t.Fatalf("blank node %+v %+v, want an idle follower", s.SoftState, s.HardState)
	}
	if rn.HasReady() {
		t.Fatalf("blank node has work: %+v", rn.Ready())
	}
}

func TestLeaderWhoseOwnRemovalIsUncommittedCanStillBeElected(t *testing.T) {
	// Two voters. n1 leads, appends its own removal, and loses its
	// leadership (check-quorum) before n2 ever sees that entry. n2 needs
	// n1's vote under the old configuration but n1's log is longer; only
	// n1 can be elected, and it must be allowed to campaign (Raft thesis
	// §4.2.2) or the cluster is stuck forever.
	nw := newNetwork(t, ids(2), func(c *Config) { c.CheckQuorum = true })
	electAndSettle(t, nw, "n1")
	nw.isolate("n2")
	if err := nw.node("n1").rn.ProposeConfChange(ConfChange{Op: RemoveServer, ID: "n1"}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	for i := 0; i < 30 && nw.state("n1") == StateLeader; i++ {
		nw.node("n1").rn.Tick()
		nw.stabilize()
	}
	if nw.state("n1") == StateLeader {
		t.Fatal("n1 did not step down")
	}
	nw.heal()
	nw.tickUntil(300, func() bool { return nw.leader() == "n2" })
	st := nw.node("n2").rn.Status()
	if _, ok := st.Config.Server("n1"); ok || st.HardState.Commit < st.ConfigIndex {
		t.Fatalf("n2 config %+v at %d (commit %d), want n1's removal committed", st.Config, st.ConfigIndex, st.HardState.Commit)
	}
	if err := nw.propose("n2", "alone"); err != nil {
		t.Fatal(err)
	}
	if got := nw.appliedData("n2"); len(got) != 1 || got[0] != "alone" {
		t.Fatalf("n2 applied %v", got)
	}
}

func TestRemovedLeaderStepsDownOnlyOnceItsOwnCopyIsDurable(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, nil)
	makeLeader(t, rn, st)
	for _, from := range []wire.NodeID{"n2", "n3"} {
		_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: from, To: "n1", Term: 2, Index: 2})
	}
	drain(t, rn, st)
	if err := rn.ProposeConfChange(ConfChange{Op: RemoveServer, ID: "n1"}); err != nil {
		t.Fatal(err)
	}
	rd := rn.Ready() // the config entry (3) is being written
	// Both remaining voters acknowledge it: the removal is committed.
	for _, from := range []wire.NodeID{"n2", "n3"} {
		_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: from, To: "n1", Term: 2, Index: 3})
	}
	if s := rn.Status(); s.HardState.Commit != 3 || s.SoftState.State != StateLeader {
		t.Fatalf("status %+v %+v, want the removal committed and n1 still leading", s.HardState, s.SoftState)
	}
	rn.Ready()
	// Once the leader's own copy is durable it steps down, in the same
	// Ready that hands the removal out for applying.
	persist(t, rn, st, rd)
	rd = rn.Ready()
	if rd.SoftState == nil || rd.SoftState.State != StateFollower {
		t.Fatalf("soft state %+v, want the step-down", rd.SoftState)
	}
	if n := len(rd.CommittedEntries); n == 0 || rd.CommittedEntries[n-1].Index != 3 {
		t.Fatalf("committed entries %v, want the removal (3) with the step-down", rd.CommittedEntries)
	}
	if tn := filter(rd.Messages, wire.MsgTimeoutNow, None); len(tn) != 1 {
		t.Fatalf("messages %v, want one MsgTimeoutNow", rd.Messages)
	}
}
