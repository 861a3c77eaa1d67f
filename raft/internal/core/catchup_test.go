package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// A node that could not run for a while (a paused or starved process)
// catches up on the ticks it missed before it steps anything: leases must
// age with real time. But the messages that arrived during the stall are
// waiting for it, and acting on their apparent absence would be wrong: a
// leader would step down for want of answers that are queued for it, and
// a follower would campaign against a leader whose heartbeats are queued.
// So CatchUp ages the clock without firing timeouts, and the next Tick,
// which the runtime takes after stepping what waited, fires them.

func TestCatchUpAgesTheLeaseButLeavesCheckQuorumToTheNextTick(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead := nw.leader()
	nw.tick()
	ln := nw.node(lead)

	// The leader missed three election timeouts of ticks.
	ln.rn.CatchUp(30)
	if got := nw.state(lead); got != StateLeader {
		t.Fatalf("the leader became %v while catching up: check-quorum fired before it heard the waiting answers", got)
	}
	if ln.rn.HasReady() {
		t.Fatalf("catching up produced a Ready (%+v): a timeout fired", ln.rn.Ready())
	}

	// Its lease ran out with those ticks: a read must not be answered
	// from the lease, only by a fresh round of heartbeats.
	nw.drop = func(m wire.Message) bool { return m.Type == wire.MsgHeartbeatResp }
	ln.rn.ReadIndex([]byte("after-stall"))
	nw.stabilize()
	if len(ln.reads) != 0 {
		t.Fatalf("reads %v answered by a lease that ran out during the stall", ln.reads)
	}

	// The followers' answers arrive; at the next tick check-quorum counts
	// them and the leader stays.
	nw.drop = nil
	ln.rn.ReadIndex([]byte("after-stall-2"))
	nw.stabilize()
	if len(ln.reads) == 0 {
		t.Fatal("no read answered by the heartbeat round after the stall")
	}
	for i := 0; i < 12; i++ {
		nw.tick()
	}
	if got := nw.leader(); got != lead {
		t.Fatalf("leader %q after the stall, want %s to stay", got, lead)
	}
}

func TestCatchUpLetsAFollowerHearTheWaitingHeartbeatBeforeItCampaigns(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.PreVote = true })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead := nw.leader()
	term := nw.term(lead)
	var f wire.NodeID
	for _, id := range nw.ids {
		if id != lead {
			f = id
		}
	}
	fn := nw.node(f)
	fn.rn.CatchUp(50)
	if fn.rn.HasReady() {
		t.Fatalf("the follower acted while catching up: %+v", fn.rn.Ready())
	}
	// The leader's heartbeat that waited during the stall is stepped
	// before the follower's next tick.
	if err := fn.rn.StepPeer(wire.Message{Type: wire.MsgHeartbeat, From: lead, To: f, Term: term, Commit: nw.commit(f)}); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	fn.rn.Tick()
	nw.stabilize()
	if st := fn.rn.Status(); st.SoftState.State != StateFollower || st.SoftState.Lead != lead || st.HardState.Term != term {
		t.Fatalf("follower after the stall: %+v; want a follower of %s in term %d", st.SoftState, lead, term)
	}
}
