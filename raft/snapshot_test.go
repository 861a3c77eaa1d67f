package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSnapshotOnDemandCompactsAndRestartRestoresThenReplays(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.TrailingLogs = 3 }))
	c.start(true)
	lead := c.waitLeader()
	for i := 0; i < 20; i++ {
		c.apply(lead, fmt.Sprintf("before-%d", i))
	}
	follower := c.others(lead)[0]
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	if err := c.node(follower).Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	meta, err := c.node(follower).Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if meta.Index < 20 || meta.ID == "" || len(meta.Config.Voters()) != 3 {
		t.Fatalf("snapshot meta %+v: want index >= 20, an ID and the 3 voters", meta)
	}
	st := c.stats(follower)
	if st.SnapshotIndex != meta.Index || st.FirstIndex != meta.Index-3+1 {
		t.Fatalf("after snapshot %d with 3 trailing logs: first index %d, snapshot index %d", meta.Index, st.FirstIndex, st.SnapshotIndex)
	}
	again, err := c.node(follower).Snapshot(ctx)
	if err != nil || again.Index != meta.Index {
		t.Fatalf("snapshot with nothing new applied: %+v, %v; want the same snapshot", again, err)
	}

	res := c.apply(lead, "after-snapshot")
	c.waitApplied(res.Index)
	c.stopNode(follower)
	c.startNode(follower)
	c.waitApplied(res.Index)
	h := c.nodes[follower].fsm.history()
	if h[meta.Index] == "" || h[res.Index] != "after-snapshot" {
		t.Fatalf("restarted follower: history lacks the snapshot's or the log's commands: %v", h)
	}
	c.checkFSMsAgree()
}

func TestLaggingFollowerCatchesUpWithSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.TrailingLogs = 2 }))
	c.start(true)
	lead := c.waitLeader()
	lagger := c.others(lead)[0]
	c.stopNode(lagger)
	var last Applied
	for i := 0; i < 30; i++ {
		last = c.apply(lead, fmt.Sprintf("while-away-%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	meta, err := c.node(lead).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first := c.stats(lead).FirstIndex; first <= 2 {
		t.Fatalf("leader's log not compacted: first index %d", first)
	}
	c.startNode(lagger)
	c.waitApplied(last.Index)
	metas, err := c.nodes[lagger].snaps.List()
	if err != nil || len(metas) == 0 || metas[0].Index < meta.Index {
		t.Fatalf("lagging follower holds snapshots %+v (%v), want the leader's at %d", metas, err, meta.Index)
	}
	if !c.nodes[lagger].fsm.contains("while-away-0") {
		t.Fatal("the snapshot's state did not reach the follower's FSM")
	}
	res := c.apply(lead, "after-catch-up")
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}

func TestSnapshotPolicyTakesSnapshotsInTheBackground(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) {
		cfg.SnapshotThreshold = 10
		cfg.SnapshotInterval = 20 * time.Millisecond
		cfg.TrailingLogs = 5
	}))
	c.start(true)
	lead := c.waitLeader()
	var last Applied
	for i := 0; i < 40; i++ {
		last = c.apply(lead, fmt.Sprintf("c%d", i))
	}
	c.waitApplied(last.Index)
	waitFor(t, "every node to snapshot", func() bool {
		for _, id := range c.ids {
			if c.stats(id).SnapshotIndex < 10 {
				return false
			}
		}
		return true
	})
	c.checkFSMsAgree()
}

func TestSnapshotWithNothingAppliedFails(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(false)
	_, err := c.node("n1").Snapshot(context.Background())
	if !errors.Is(err, ErrNothingToSnapshot) {
		t.Fatalf("got %v, want ErrNothingToSnapshot", err)
	}
}
