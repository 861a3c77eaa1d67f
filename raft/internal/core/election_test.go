package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestSingleVoterElectsItselfAndCommits(t *testing.T) {
	nw := newNetwork(t, ids(1), nil)
	nw.tickUntil(30, func() bool { return nw.state("n1") == StateLeader })
	if got := nw.term("n1"); got != 2 {
		t.Fatalf("term = %d, want 2", got)
	}
	if err := nw.propose("n1", "a"); err != nil {
		t.Fatal(err)
	}
	if got := nw.appliedData("n1"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("applied %v, want [a]", got)
	}
	// Bootstrap config (1), no-op (2), "a" (3).
	if got := nw.commit("n1"); got != 3 {
		t.Fatalf("commit = %d, want 3", got)
	}
}

func TestThreeNodesElectOneLeader(t *testing.T) {
	for _, preVote := range []bool{false, true} {
		nw := newNetwork(t, ids(3), func(c *Config) { c.PreVote = preVote })
		nw.tickUntil(50, func() bool { return nw.leader() != None })
		lead := nw.leader()
		leaders := 0
		for _, id := range nw.ids {
			st := nw.node(id).rn.Status()
			if st.SoftState.State == StateLeader {
				leaders++
			}
			if st.SoftState.Lead != lead {
				t.Errorf("pre-vote=%v: %s follows %q, want %q", preVote, id, st.SoftState.Lead, lead)
			}
			if st.HardState.Term != 2 {
				t.Errorf("pre-vote=%v: %s term = %d, want 2", preVote, id, st.HardState.Term)
			}
		}
		if leaders != 1 {
			t.Fatalf("pre-vote=%v: %d leaders", preVote, leaders)
		}
		// The leader's no-op is committed everywhere.
		for _, id := range nw.ids {
			if got := nw.commit(id); got != 2 {
				t.Errorf("pre-vote=%v: %s commit = %d, want 2", preVote, id, got)
			}
		}
	}
}

func TestElectionTimeoutIsRandomizedWithinOneToTwoTimeouts(t *testing.T) {
	seen := map[int]bool{}
	for seed := int64(0); seed < 50; seed++ {
		c := testConfig("n1", newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3")))
		c.Seed = seed
		c.HardState = wire.HardState{Term: 1}
		rn, err := NewRawNode(c)
		if err != nil {
			t.Fatal(err)
		}
		ticks := 0
		for rn.Status().SoftState.State == StateFollower {
			rn.Tick()
			ticks++
			if ticks > 100 {
				t.Fatal("no campaign within 100 ticks")
			}
		}
		if ticks < c.ElectionTick || ticks >= 2*c.ElectionTick {
			t.Fatalf("seed %d: campaigned after %d ticks, want [%d, %d)", seed, ticks, c.ElectionTick, 2*c.ElectionTick)
		}
		seen[ticks] = true
	}
	if len(seen) < 3 {
		t.Fatalf("timeouts not randomized: %v", seen)
	}
}

func mustBootstrap(t *testing.T, members ...wire.NodeID) wire.Entry {
	t.Helper()
	e, err := Bootstrap(voters(members...))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSplitVoteIsResolvedByRandomizedTimeouts(t *testing.T) {
	nw := newNetwork(t, ids(4), nil)
	// n1 and n3 campaign at once in the same term, and each reaches only
	// one other voter first: with votes split 2-2 nobody wins that term.
	nw.cut[[2]wire.NodeID{"n1", "n4"}] = true
	nw.cut[[2]wire.NodeID{"n3", "n2"}] = true
	for _, id := range []wire.NodeID{"n1", "n3"} {
		if err := nw.node(id).rn.Campaign(); err != nil {
			t.Fatal(err)
		}
	}
	nw.stabilize()
	if lead := nw.leader(); lead != None {
		t.Fatalf("leader %s elected in a split vote", lead)
	}
	nw.heal()
	nw.tickUntil(200, func() bool { return nw.leader() != None })
	if got := nw.term(nw.leader()); got < 3 {
		t.Fatalf("leader term = %d, want a later term than the split one", got)
	}
}

func TestVoteGrantedOnlyToUpToDateLogs(t *testing.T) {
	// Our log ends at (index 3, term 2).
	st := newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3"),
		wire.Entry{Index: 2, Term: 2}, wire.Entry{Index: 3, Term: 2})
	cases := []struct {
		name          string
		lastIndex     uint64
		lastTerm      uint64
		wantGranted   bool
		wantVoteAfter wire.NodeID
	}{
		{"older last term", 5, 1, false, None},
		{"same term shorter", 2, 2, false, None},
		{"same term same length", 3, 2, true, "n2"},
		{"same term longer", 4, 2, true, "n2"},
		{"newer last term shorter", 1, 3, true, "n2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 2}, nil)
			if err := rn.StepPeer(wire.Message{Type: wire.MsgVote, From: "n2", To: "n1", Term: 3,
				Index: c.lastIndex, LogTerm: c.lastTerm}); err != nil {
				t.Fatal(err)
			}
			rd := rn.Ready()
			if len(rd.Messages) != 0 {
				t.Fatalf("vote answer sent before durable: %v", rd.Messages)
			}
			if len(rd.DurableMessages) != 1 || rd.DurableMessages[0].Type != wire.MsgVoteResp {
				t.Fatalf("durable messages %v, want one MsgVoteResp", rd.DurableMessages)
			}
			m := rd.DurableMessages[0]
			if m.Reject == c.wantGranted || m.Term != 3 {
				t.Fatalf("answer %v, want granted=%v at term 3", m, c.wantGranted)
			}
			if rd.HardState.Vote != c.wantVoteAfter || rd.HardState.Term != 3 || !rd.MustSync {
				t.Fatalf("hard state %+v (must sync %v), want vote %q in term 3, synced",
					rd.HardState, rd.MustSync, c.wantVoteAfter)
			}
		})
	}
}

func newTestRawNode(t *testing.T, id wire.NodeID, st *memStorage, hs wire.HardState, opt func(*Config)) *RawNode {
	t.Helper()
	c := testConfig(id, st)
	c.HardState = hs
	c.Applied = st.snap.Index
	if opt != nil {
		opt(&c)
	}
	rn, err := NewRawNode(c)
	if err != nil {
		t.Fatal(err)
	}
	return rn
}

func TestOneVotePerTermAndVoteSurvivesStepDownInSameTerm(t *testing.T) {
	st := newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3"))
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, nil)
	vote := func(from wire.NodeID, term uint64) bool {
		t.Helper()
		if err := rn.StepPeer(wire.Message{Type: wire.MsgVote, From: from, To: "n1", Term: term, Index: 1, LogTerm: 1}); err != nil {
			t.Fatal(err)
		}
		rd := rn.Ready()
		for _, m := range rd.DurableMessages {
			if m.Type == wire.MsgVoteResp && m.To == from {
				return !m.Reject
			}
		}
		t.Fatalf("no answer to %s", from)
		return false
	}
	if !vote("n2", 2) {
		t.Fatal("first vote in term 2 refused")
	}
	if vote("n3", 2) {
		t.Fatal("second vote in term 2 granted to another candidate")
	}
	if !vote("n2", 2) {
		t.Fatal("repeated request from the same candidate refused")
	}
	// A heartbeat from the leader of term 2 (n2) keeps the vote.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgHeartbeat, From: "n2", To: "n1", Term: 2})
	rn.Ready()
	if got := rn.Status().HardState.Vote; got != "n2" {
		t.Fatalf("vote after heartbeat = %q, want n2", got)
	}
	// A candidate that steps down in the same term keeps its self-vote.
	st2 := newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3"))
	c := newTestRawNode(t, "n1", st2, wire.HardState{Term: 1}, nil)
	_ = c.Campaign()
	c.Ready()
	_ = c.StepPeer(wire.Message{Type: wire.MsgApp, From: "n2", To: "n1", Term: 2, Index: 1, LogTerm: 1})
	s := c.Status()
	if s.SoftState.State != StateFollower || s.HardState.Vote != "n1" || s.HardState.Term != 2 {
		t.Fatalf("after stepping down: %+v %+v, want follower in term 2 still voting for n1", s.SoftState, s.HardState)
	}
	_ = c.StepPeer(wire.Message{Type: wire.MsgVote, From: "n3", To: "n1", Term: 2, Index: 1, LogTerm: 1})
	for _, m := range c.Ready().DurableMessages {
		if m.Type == wire.MsgVoteResp && !m.Reject {
			t.Fatalf("granted a second vote in term 2: %v", m)
		}
	}
}

func TestCandidateVoteRequestsWaitForDurability(t *testing.T) {
	st := newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3"))
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, nil)
	_ = rn.Campaign()
	rd := rn.Ready()
	if len(rd.Messages) != 0 {
		t.Fatalf("messages sent before the self-vote is durable: %v", rd.Messages)
	}
	if len(rd.DurableMessages) != 2 || rd.HardState.Vote != "n1" || rd.HardState.Term != 2 || !rd.MustSync {
		t.Fatalf("ready %+v, want two durable MsgVote and hard state {2 n1}", rd)
	}
}

func TestPreVoteDoesNotChangeTerms(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.PreVote = true })
	nw.campaign("n1")
	// n3 is partitioned and keeps timing out: with pre-vote it never wins
	// a pre-election, so its term does not grow.
	nw.isolate("n3")
	for i := 0; i < 100; i++ {
		nw.tick()
	}
	if got := nw.term("n3"); got != 2 {
		t.Fatalf("isolated pre-voter term = %d, want 2", got)
	}
	if got := nw.state("n3"); got != StatePreCandidate && got != StateFollower {
		t.Fatalf("isolated pre-voter state = %v", got)
	}
	nw.heal()
	nw.tickUntil(30, func() bool { return nw.node("n3").rn.Status().SoftState.Lead == "n1" })
	if nw.leader() != "n1" || nw.term("n1") != 2 {
		t.Fatalf("leader %s in term %d after heal, want n1 undisturbed in term 2", nw.leader(), nw.term("n1"))
	}
}

func TestPreVoteGrantChangesNothingOnGranter(t *testing.T) {
	st := newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3"))
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1}, func(c *Config) { c.PreVote = true })
	_ = rn.StepPeer(wire.Message{Type: wire.MsgPreVote, From: "n2", To: "n1", Term: 2, Index: 1, LogTerm: 1})
	rd := rn.Ready()
	if !rd.HardState.IsEmpty() {
		t.Fatalf("pre-vote changed hard state: %+v", rd.HardState)
	}
	var resp []wire.Message
	for _, m := range append(rd.Messages, rd.DurableMessages...) {
		if m.Type == wire.MsgPreVoteResp {
			resp = append(resp, m)
		}
	}
	if len(resp) != 1 || resp[0].Reject || resp[0].Term != 2 {
		t.Fatalf("answers %v, want one granted MsgPreVoteResp at term 2", resp)
	}
	if s := rn.Status(); s.HardState.Term != 1 || s.HardState.Vote != None {
		t.Fatalf("status %+v, want term 1 and no vote", s.HardState)
	}
}

func TestCheckQuorumLeaderStepsDownWhenCutOff(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true })
	nw.campaign("n1")
	if nw.leader() != "n1" {
		t.Fatal("n1 not elected")
	}
	nw.isolate("n1")
	for i := 0; i < 2*10+1 && nw.state("n1") == StateLeader; i++ {
		nw.node("n1").rn.Tick()
		nw.stabilize()
	}
	if got := nw.state("n1"); got != StateFollower {
		t.Fatalf("isolated leader is %v after two election timeouts, want Follower", got)
	}
	if got := nw.term("n1"); got != 2 {
		t.Fatalf("stepping down changed the term to %d", got)
	}
}

func TestCheckQuorumFollowersIgnoreVotesWithinLease(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true })
	nw.campaign("n1")
	// n3 campaigns (no pre-vote) while n2 hears from n1: n2 ignores it.
	nw.node("n3").rn.Campaign()
	nw.stabilize()
	if nw.leader() != "n1" || nw.term("n2") != 2 {
		t.Fatalf("leader %s, n2 term %d: lease did not protect the leader", nw.leader(), nw.term("n2"))
	}
}

func TestPreVoteAndCheckQuorumIgnoreARejoiningNode(t *testing.T) {
	opt := func(c *Config) { c.CheckQuorum = true; c.PreVote = true }
	nw := newNetwork(t, ids(3), opt)
	nw.campaign("n1")
	nw.isolate("n3")
	for i := 0; i < 60; i++ {
		nw.tick()
	}
	nw.heal()
	for i := 0; i < 60; i++ {
		nw.tick()
	}
	if nw.leader() != "n1" || nw.term("n1") != 2 {
		t.Fatalf("leader %s in term %d, want n1 in term 2", nw.leader(), nw.term("n1"))
	}
	if lead := nw.node("n3").rn.Status().SoftState.Lead; lead != "n1" {
		t.Fatalf("rejoined node follows %q, want n1", lead)
	}
}

func TestStaleLeaderStepsDownOnHigherTermAnswer(t *testing.T) {
	// Without check-quorum the cut-off leader does not step down by
	// itself; with pre-vote its followers never bump terms past it
	// either, so only their answers can tell it.
	opt := func(c *Config) { c.PreVote = true }
	nw := newNetwork(t, ids(3), opt)
	nw.campaign("n1")
	nw.isolate("n1")
	nw.campaign("n2")
	if nw.leader() != "n2" {
		t.Fatal("n2 not elected")
	}
	nw.heal()
	// n1 still thinks it leads term 2; its next heartbeat is answered with
	// term 3 and it steps down.
	nw.node("n1").rn.Tick()
	nw.stabilize()
	if got := nw.state("n1"); got != StateFollower || nw.term("n1") != 3 {
		t.Fatalf("old leader is %v in term %d, want follower in term 3", got, nw.term("n1"))
	}
}

func TestPartialPartitionKeepsOneStableLeader(t *testing.T) {
	// n1, n2, n3 see each other; n4 sees only n2 and n5 sees only n3. With
	// pre-vote and check-quorum the cut-off nodes never win a pre-vote,
	// never raise terms, and the leader stays.
	nw := newNetwork(t, ids(5), func(c *Config) { c.PreVote = true; c.CheckQuorum = true })
	for _, a := range nw.ids {
		for _, b := range nw.ids {
			if a == b {
				continue
			}
			pair := map[wire.NodeID]bool{a: true, b: true}
			sees := (!pair["n4"] && !pair["n5"]) || (pair["n4"] && pair["n2"]) || (pair["n5"] && pair["n3"])
			if !sees {
				nw.cut[[2]wire.NodeID{a, b}] = true
			}
		}
	}
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead, term := nw.leader(), nw.term(nw.leader())
	for i := 0; i < 300; i++ {
		nw.tick()
		if nw.leader() != lead || nw.term(lead) != term {
			t.Fatalf("tick %d: leader %q in term %d, want %q to keep term %d", i, nw.leader(), nw.term(nw.leader()), lead, term)
		}
	}
	if lead == "n4" || lead == "n5" {
		t.Fatalf("a partially connected node leads: %s", lead)
	}
}

func TestAsymmetricLinkLeaderStepsDown(t *testing.T) {
	// The leader can send but not receive: check-quorum makes it step down,
	// and with pre-vote a new leader takes over.
	nw := newNetwork(t, ids(3), func(c *Config) { c.PreVote = true; c.CheckQuorum = true })
	electAndSettle(t, nw, "n1")
	nw.cut[[2]wire.NodeID{"n2", "n1"}] = true
	nw.cut[[2]wire.NodeID{"n3", "n1"}] = true
	nw.tickUntil(100, func() bool { return nw.state("n1") != StateLeader })
	nw.tickUntil(200, func() bool { l := nw.leader(); return l == "n2" || l == "n3" })
}

// A follower that hears from the leader of a term records that leader as
// its vote for the term, durably, when it had voted for nobody. While it
// runs, knowing the leader is enough to refuse other candidates of the
// term; after a restart only the durable vote remembers it. Without it, a
// delayed vote request from a losing candidate of the same term could be
// granted after the restart, and with that vote the candidate could lead
// the same term as the real leader (two leaders of one term, whose no-ops
// would share an index and a term: Log Matching broken).
func TestFollowerRecordsItsLeaderAsItsVoteAndRefusesAnotherCandidateAfterRestart(t *testing.T) {
	st := newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3"))
	rn := newTestRawNode(t, "n2", st, wire.HardState{Term: 1}, nil)
	if err := rn.StepPeer(wire.Message{Type: wire.MsgHeartbeat, From: "n1", To: "n2", Term: 5}); err != nil {
		t.Fatal(err)
	}
	rd := rn.Ready()
	if rd.HardState.Term != 5 || rd.HardState.Vote != "n1" {
		t.Fatalf("hard state after the leader's heartbeat: %+v, want term 5 with n1 recorded as the vote", rd.HardState)
	}
	persist(t, rn, st, rd)

	// Restart from what is durable; n3, a candidate of term 5 that lost to
	// n1, asks again with a log as good as ours.
	restarted := newTestRawNode(t, "n2", st, rd.HardState, nil)
	if err := restarted.StepPeer(wire.Message{Type: wire.MsgVote, From: "n3", To: "n2", Term: 5, Index: 1, LogTerm: 1}); err != nil {
		t.Fatal(err)
	}
	ans := filter(drain(t, restarted, st), wire.MsgVoteResp, "n3")
	if len(ans) != 1 || !ans[0].Reject {
		t.Fatalf("answers to n3's term-5 vote request after the restart: %v, want one rejection", ans)
	}
	if got := restarted.Status().HardState.Vote; got != "n1" {
		t.Fatalf("vote after the restart: %q, want n1", got)
	}
}
