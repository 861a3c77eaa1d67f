package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestReadIndexSafeNeedsAQuorumOfHeartbeatAcks(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	_ = nw.propose("n1", "a")
	commit := nw.commit("n1")
	nw.isolate("n2")
	nw.isolate("n3")
	nw.node("n1").rn.ReadIndex([]byte("r1"))
	nw.stabilize()
	if got := nw.node("n1").reads; len(got) != 0 {
		t.Fatalf("read answered without a quorum: %v", got)
	}
	nw.heal()
	nw.node("n1").rn.Tick() // the next heartbeat round carries r1
	nw.stabilize()
	got := nw.node("n1").reads
	if len(got) != 1 || string(got[0].RequestCtx) != "r1" || got[0].Index != commit {
		t.Fatalf("reads %v, want r1 at %d", got, commit)
	}
}

func TestReadIndexRoundsConfirmOlderRequestsToo(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.isolate("n2")
	nw.isolate("n3")
	nw.node("n1").rn.ReadIndex([]byte("r1"))
	nw.node("n1").rn.ReadIndex([]byte("r2"))
	nw.stabilize()
	nw.heal()
	nw.node("n1").rn.Tick()
	nw.stabilize()
	got := nw.node("n1").reads
	if len(got) != 2 || string(got[0].RequestCtx) != "r1" || string(got[1].RequestCtx) != "r2" {
		t.Fatalf("reads %v, want r1 then r2", got)
	}
}

func TestReadIndexLeaseAnswersAtOnceWhileTheLeaseHolds(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead := nw.leader()
	nw.tick() // a heartbeat round establishes the lease
	nw.isolate(lead)
	nw.node(lead).rn.ReadIndex([]byte("lease"))
	nw.stabilize()
	got := nw.node(lead).reads
	if len(got) != 1 || string(got[0].RequestCtx) != "lease" || got[0].Index != nw.commit(lead) {
		t.Fatalf("reads %v, want an immediate answer at the commit index", got)
	}
	// Cut off for most of an election timeout, the lease has run out:
	// the read needs a heartbeat round, which cannot succeed.
	for i := 0; i < 7; i++ {
		nw.node(lead).rn.Tick()
		nw.stabilize()
	}
	nw.node(lead).rn.ReadIndex([]byte("expired"))
	nw.stabilize()
	if got := nw.node(lead).reads; len(got) != 1 {
		t.Fatalf("reads %v: answered on an expired lease", got)
	}
}

func TestLeaseReadsStopOnceATransferStarts(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead := nw.leader()
	nw.tick()
	var other wire.NodeID
	for _, id := range nw.ids {
		if id != lead {
			other = id
		}
	}
	// The transfer's MsgTimeoutNow is lost: lead is still leader, but a
	// campaign that ignores leases may be under way.
	nw.drop = func(m wire.Message) bool { return m.Type == wire.MsgTimeoutNow }
	nw.node(lead).rn.TransferLeader(other)
	nw.stabilize()
	nw.isolate(lead)
	nw.node(lead).rn.ReadIndex([]byte("during-transfer"))
	nw.stabilize()
	if got := nw.node(lead).reads; len(got) != 0 {
		t.Fatalf("lease read served after MsgTimeoutNow: %v", got)
	}
}

func TestRestartedNodeHonoursLeaseBeforeVoting(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead := nw.leader()
	var a, b wire.NodeID
	for _, id := range nw.ids {
		if id != lead {
			if a == None {
				a = id
			} else {
				b = id
			}
		}
	}
	// b restarts (forgetting it heard from the leader) and a campaigns at
	// once, cut off from the leader: b must not help depose it yet.
	nw.restart(b, func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.isolate(lead)
	nw.campaign(a)
	if nw.state(a) == StateLeader {
		t.Fatal("a restarted follower voted within its startup lease")
	}
}

func TestLeaseReadsRequireCheckQuorum(t *testing.T) {
	c := testConfig("n1", newMemStorage())
	c.ReadOnlyOption = ReadOnlyLeaseBased
	if _, err := NewRawNode(c); err == nil {
		t.Fatal("lease-based reads accepted without check-quorum")
	}
}

func TestReadIndexForwardedFromFollower(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	_ = nw.propose("n1", "a")
	nw.node("n2").rn.ReadIndex([]byte("from-n2"))
	nw.stabilize()
	nw.tick()
	got := nw.node("n2").reads
	if len(got) != 1 || string(got[0].RequestCtx) != "from-n2" || got[0].Index != nw.commit("n1") {
		t.Fatalf("follower reads %v, want from-n2 at the leader's commit %d", got, nw.commit("n1"))
	}
	// Without a leader the request is dropped (the caller times out).
	nw2 := newNetwork(t, ids(3), nil)
	nw2.node("n2").rn.ReadIndex([]byte("x"))
	nw2.stabilize()
	if len(nw2.node("n2").reads) != 0 || len(nw2.sent) != 0 {
		t.Fatalf("read without a leader went somewhere: %v", nw2.sent)
	}
}

func TestReadIndexWaitsForFirstCommitOfTerm(t *testing.T) {
	members := ids(3)
	st := newMemStorageWith(entriesWithTerms(t, members, 1, 1)...)
	rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 1, Commit: 1}, nil)
	makeLeader(t, rn, st)
	rn.ReadIndex([]byte("early"))
	msgs := drain(t, rn, st)
	if hb := filter(msgs, wire.MsgHeartbeat, None); len(hb) != 0 {
		t.Fatalf("read round started before the no-op committed: %v", hb)
	}
	// The no-op (index 3) commits; the queued read is released.
	_ = rn.StepPeer(wire.Message{Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 2, Index: 3})
	msgs = drain(t, rn, st)
	hb := filter(msgs, wire.MsgHeartbeat, "n2")
	if len(hb) != 1 || string(hb[0].Context) != "early" {
		t.Fatalf("heartbeats %v, want one carrying the read's context", hb)
	}
	_ = rn.StepPeer(wire.Message{Type: wire.MsgHeartbeatResp, From: "n2", To: "n1", Term: 2, Context: []byte("early")})
	rd := rn.Ready()
	if len(rd.ReadStates) != 1 || rd.ReadStates[0].Index != 3 {
		t.Fatalf("read states %v, want early at 3", rd.ReadStates)
	}
}

func TestReadIndexSingleVoterAnswersAtOnce(t *testing.T) {
	nw := newNetwork(t, ids(1), nil)
	nw.campaign("n1")
	nw.node("n1").rn.ReadIndex([]byte("solo"))
	nw.stabilize()
	got := nw.node("n1").reads
	if len(got) != 1 || got[0].Index != nw.commit("n1") {
		t.Fatalf("reads %v, want one at the commit index", got)
	}
}

func TestDeposedLeaderDropsPendingReads(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.isolate("n1")
	nw.node("n1").rn.ReadIndex([]byte("stale"))
	nw.stabilize()
	nw.campaign("n2")
	nw.heal()
	nw.tick()
	nw.tick()
	if got := nw.node("n1").reads; len(got) != 0 {
		t.Fatalf("deposed leader answered a read: %v", got)
	}
}
