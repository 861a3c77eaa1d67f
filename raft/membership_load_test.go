package raft

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// join adds blank node id to the cluster led by lead, as a learner first,
// then as a voter.
func (c *testCluster) join(lead, id wire.NodeID) {
	c.t.Helper()
	t := c.t.(*testing.T)
	if err := c.node(id).SetPeers(context.Background(), c.conf.Servers...); err != nil {
		t.Fatal(err)
	}
	addr := c.nodes[id].addr
	changeRetry(t, "add learner "+string(id), func(ctx context.Context) error { return c.node(lead).AddLearner(ctx, id, addr) })
	changeRetry(t, "promote "+string(id), func(ctx context.Context) error { return c.node(lead).AddVoter(ctx, id, addr) })
}

func TestGrowOneToFiveAndShrinkToThreeUnderLoadLosesNoAcknowledgedWrite(t *testing.T) {
	c := newTestCluster(t, 5, withMembers(1))
	c.start(true)
	lead := c.waitLeader("n1")
	l := c.startLoad("w", 3)
	defer l.stop()
	l.waitMore(t, 20)

	for _, id := range []wire.NodeID{"n2", "n3"} {
		c.join(lead, id)
		l.waitMore(t, 20)
	}
	if v := c.stats(lead).Config.Voters(); len(v) != 3 {
		t.Fatalf("voters %v, want 3", v)
	}
	for _, id := range []wire.NodeID{"n4", "n5"} {
		c.join(lead, id)
		l.waitMore(t, 20)
	}
	if v := c.stats(lead).Config.Voters(); len(v) != 5 {
		t.Fatalf("voters %v, want 5", v)
	}
	for _, id := range []wire.NodeID{"n4", "n5"} {
		changeRetry(t, "remove "+string(id), func(ctx context.Context) error { return c.node(lead).RemoveServer(ctx, id) })
		l.waitMore(t, 20)
	}
	l.stop()
	l.stopc = make(chan struct{}) // the deferred stop finds nothing to stop
	if v := c.stats(lead).Config.Voters(); len(v) != 3 {
		t.Fatalf("voters %v, want 3", v)
	}
	// The removed nodes no longer follow anyone: stop them first.
	c.stopNode("n4")
	c.stopNode("n5")
	last := c.applyRetry("final")
	rest := []wire.NodeID{"n1", "n2", "n3"}
	waitFor(t, "the remaining voters to apply everything", func() bool {
		for _, id := range rest {
			if c.nodes[id].fsm.lastIndex() < last.Index {
				return false
			}
		}
		return true
	})
	if l.acked() < 100 {
		t.Fatalf("only %d writes acknowledged: the run proves nothing", l.acked())
	}
	l.checkExactlyOnce(t, rest...)
	c.checkFSMsAgree()
}

func TestLeaderRemovingItselfUnderLoadHandsOverAndStepsDown(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	l := c.startLoad("w", 2)
	defer l.stop()
	l.waitMore(t, 20)
	changeRetry(t, "remove the leader", func(ctx context.Context) error {
		err := c.node(lead).RemoveServer(ctx, lead)
		if errors.Is(err, ErrOutcomeUnknown) {
			// The leader steps down as the change commits, and may learn of
			// its own step-down before it applies the change; the checks
			// below see whether the change took effect.
			t.Logf("removing the leader: %v", err)
			return nil
		}
		return err
	})
	rest := c.others(lead)
	newLead := c.waitLeader(rest...)
	waitFor(t, "the removed leader to step down", func() bool { return c.node(lead).State() != Leader })
	l.waitMore(t, 20)
	l.stop()
	l.stopc = make(chan struct{})
	if st := c.stats(newLead); st.Config.IsVoter(lead) || len(st.Config.Voters()) != 2 {
		t.Fatalf("configuration still holds the old leader: %+v", st.Config)
	}
	c.stopNode(lead) // removed: it follows no one
	last := c.applyRetry("final")
	c.waitApplied(last.Index)
	l.checkExactlyOnce(t, rest...)
	c.checkFSMsAgree()
}

func TestLearnerIsNeverCountedInAQuorum(t *testing.T) {
	c := newTestCluster(t, 4, withMembers(3))
	c.start(true)
	lead := c.waitLeader("n1", "n2", "n3")
	c.join(lead, "n4") // joins as a voter: demote it to a learner
	changeRetry(t, "demote n4", func(ctx context.Context) error { return c.node(lead).DemoteVoter(ctx, "n4") })
	before := c.apply(lead, "before")
	c.waitApplied(before.Index)

	// Two of the three voters go down; the leader and the learner remain.
	for _, id := range []wire.NodeID{"n1", "n2", "n3"} {
		if id != lead {
			c.stopNode(id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*testElection)
	_, err := c.node(lead).Apply(ctx, []byte("must-not-commit"))
	cancel()
	if err == nil {
		t.Fatal("a write committed with one voter of three and a learner")
	}
	// Give a wrongly counted quorum every chance to show.
	time.Sleep(5 * testElection)
	for _, id := range []wire.NodeID{lead, "n4"} {
		if c.nodes[id].fsm.contains("must-not-commit") {
			t.Fatalf("%s applied a write that only the leader and a learner hold", id)
		}
		if st := c.stats(id); st.Commit > before.Index+1 {
			// +1: the leader's own configuration change may commit late.
			t.Fatalf("%s commit index %d moved past %d without a voter quorum", id, st.Commit, before.Index)
		}
	}
	if c.node("n4").State() == Leader {
		t.Fatal("the learner leads")
	}
}

func TestLearnerIsPromotedOnceCaughtUp(t *testing.T) {
	c := newTestCluster(t, 4, withMembers(3), withConfig(func(cfg *Config) {
		cfg.AutoPromoteLearners = true
		cfg.LearnerMaxLag = 16
	}))
	c.start(true)
	lead := c.waitLeader("n1", "n2", "n3")
	for i := 0; i < 50; i++ {
		c.apply(lead, "before")
	}
	if err := c.node("n4").SetPeers(context.Background(), c.conf.Servers...); err != nil {
		t.Fatal(err)
	}
	changeRetry(t, "add learner n4", func(ctx context.Context) error { return c.node(lead).AddLearner(ctx, "n4", c.nodes["n4"].addr) })
	waitFor(t, "n4 to be promoted by the leader", func() bool { return c.stats(lead).Config.IsVoter("n4") })
	if c.nodes["n4"].fsm.lastIndex()+16 < c.stats(lead).Commit-16 {
		// The promotion needs it within LearnerMaxLag when proposed; by now
		// it should hold nearly everything.
		t.Logf("n4 applied %d of %d", c.nodes["n4"].fsm.lastIndex(), c.stats(lead).Commit)
	}
	res := c.apply(lead, "after")
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}

func TestLearnerIsNotPromotedWhenTheOptionIsOff(t *testing.T) {
	c := newTestCluster(t, 4, withMembers(3))
	c.start(true)
	lead := c.waitLeader("n1", "n2", "n3")
	if err := c.node("n4").SetPeers(context.Background(), c.conf.Servers...); err != nil {
		t.Fatal(err)
	}
	changeRetry(t, "add learner n4", func(ctx context.Context) error { return c.node(lead).AddLearner(ctx, "n4", c.nodes["n4"].addr) })
	res := c.apply(lead, "x")
	c.waitApplied(res.Index)
	time.Sleep(5 * testElection)
	if c.stats(lead).Config.IsVoter("n4") {
		t.Fatal("n4 promoted although AutoPromoteLearners is off")
	}
}

func TestTransferUnderLoadCompletesAndLosesNoAcknowledgedWrite(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	l := c.startLoad("w", 3)
	defer l.stop()
	l.waitMore(t, 50)
	target := c.others(lead)[0]
	if err := c.node(lead).TransferLeadership(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transfer to "+string(target), func() bool { return c.leaderAmong(c.ids...) == target })
	l.waitMore(t, 50)
	l.stop()
	l.stopc = make(chan struct{})
	last := c.applyRetry("final")
	c.waitApplied(last.Index)
	l.checkExactlyOnce(t, c.ids...)
	c.checkFSMsAgree()
}

func TestTransferToAPartitionedTargetGivesUpCleanly(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	c.apply(lead, "before")
	target := c.others(lead)[0]
	c.cut(lead, target)
	c.cut(target, lead)
	// Make sure the target lags, so the transfer must wait for it.
	c.apply(lead, "while-cut")
	if err := c.node(lead).TransferLeadership(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	// Stats runs on the event loop after the transfer request: once it
	// returns, the transfer has begun.
	c.stats(lead)
	// While the transfer is pending, proposals are refused as not
	// committed (safe to retry); once it gives up they are accepted again
	// by the same leader.
	var refused bool
	deadline := time.Now().Add(waitDeadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.node(lead).Apply(ctx, []byte("after-transfer"))
		cancel()
		if err == nil {
			break
		}
		if !IsRetryable(err) {
			t.Fatalf("apply during a stuck transfer: %v, want not committed", err)
		}
		if errors.Is(err, ErrProposalDropped) {
			refused = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("proposals still refused long after the transfer should have given up: %v", err)
		}
		time.Sleep(testHeartbeat)
	}
	if !refused {
		t.Log("the transfer gave up before the first proposal: nothing refused")
	}
	if c.node(lead).State() != Leader {
		t.Fatalf("%s lost its leadership to a transfer that could not happen", lead)
	}
	c.net.Heal()
	res := c.applyRetry("healed")
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}

func TestRemovedNodeThatKeepsCampaigningDoesNotChangeTheTerm(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	gone := c.others(lead)[0]
	c.apply(lead, "x")
	changeRetry(t, "remove "+string(gone), func(ctx context.Context) error { return c.node(lead).RemoveServer(ctx, gone) })
	term := c.stats(lead).Term
	stay := c.others(gone)
	// The removed node no longer hears from the leader and campaigns; help
	// it along.
	for i := 0; i < 10; i++ {
		_ = c.node(gone).Campaign(context.Background())
		time.Sleep(testElection)
	}
	for _, id := range stay {
		if st := c.stats(id); st.Term != term {
			t.Fatalf("%s moved from term %d to %d because of a removed node", id, term, st.Term)
		}
	}
	if got := c.waitLeader(stay...); got != lead {
		t.Fatalf("leader changed from %s to %s", lead, got)
	}
	res := c.apply(lead, "after")
	for _, id := range stay {
		waitFor(t, string(id)+" to apply", func() bool { return c.nodes[id].fsm.lastIndex() >= res.Index })
	}
}
