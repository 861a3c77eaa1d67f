package raft

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// changeRetry runs a membership change until it succeeds, retrying while
// a change is still pending (the leader first commits an entry of its
// term) and when the change was definitely not committed, which the API
// promises is safe to retry (a leader that lost its office on a loaded
// machine, a transfer in progress).
func changeRetry(t *testing.T, what string, change func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
		err := change(ctx)
		cancel()
		if err == nil {
			return
		}
		if !errors.Is(err, ErrMembershipChangePending) && !isNotCommitted(err) || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(testHeartbeat)
	}
}

func TestAddLearnerPromoteAndRemoveMembers(t *testing.T) {
	c := newTestCluster(t, 4, withMembers(3))
	c.start(true)
	lead := c.waitLeader("n1", "n2", "n3")
	res := c.apply(lead, "before-n4")

	if err := c.node("n4").SetPeers(context.Background(), c.conf.Servers...); err != nil {
		t.Fatal(err)
	}
	changeRetry(t, "add learner n4", func(ctx context.Context) error {
		return c.node(lead).AddLearner(ctx, "n4", c.nodes["n4"].addr)
	})
	waitFor(t, "the learner to catch up", func() bool { return c.nodes["n4"].fsm.lastIndex() >= res.Index })
	if st := c.stats("n4"); st.Config.IsVoter("n4") {
		t.Fatalf("n4 votes already: %+v", st.Config)
	}

	changeRetry(t, "promote n4", func(ctx context.Context) error {
		return c.node(lead).AddVoter(ctx, "n4", c.nodes["n4"].addr)
	})
	if st := c.stats(lead); !st.Config.IsVoter("n4") || len(st.Config.Voters()) != 4 {
		t.Fatalf("after promotion: %+v", st.Config)
	}

	// Remove a follower that is not n4: three voters remain and commit.
	var gone wire.NodeID
	for _, id := range []wire.NodeID{"n1", "n2", "n3"} {
		if id != lead {
			gone = id
			break
		}
	}
	changeRetry(t, "remove "+string(gone), func(ctx context.Context) error { return c.node(lead).RemoveServer(ctx, gone) })
	c.stopNode(gone)
	res = c.apply(lead, "after-removal")
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}

func TestRemovingTheLeaderHandsOver(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	c.apply(lead, "x")
	changeRetry(t, "remove the leader", func(ctx context.Context) error { return c.node(lead).RemoveServer(ctx, lead) })
	rest := c.others(lead)
	newLead := c.waitLeader(rest...)
	c.stopNode(lead)
	res := c.apply(newLead, "after-leader-removal")
	if st := c.stats(newLead); st.Config.IsVoter(lead) || len(st.Config.Voters()) != 2 {
		t.Fatalf("configuration still holds the old leader: %+v", st.Config)
	}
	c.waitApplied(res.Index)
}

func TestMembershipChangeOnFollowerNamesTheLeader(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	f := c.others(lead)[0]
	waitFor(t, "the follower to know the leader", func() bool { l, _ := c.node(f).Leader(); return l == lead })
	err := c.node(f).AddLearner(context.Background(), "n9", "addr-9")
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderID != lead || !errors.Is(err, ErrNotCommitted) {
		t.Fatalf("got %v, want a not-committed NotLeaderError naming %s", err, lead)
	}
	changeRetry(t, "invalid change", func(ctx context.Context) error {
		err := c.node(lead).RemoveServer(ctx, "nobody")
		if errors.Is(err, ErrInvalidMembershipChange) && errors.Is(err, ErrNotCommitted) {
			return nil
		}
		if err == nil {
			return errors.New("removing an absent server succeeded")
		}
		return err
	})
}
