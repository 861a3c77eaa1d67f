package raft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/wire"
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

// corruptSnapshots is a snapshot store whose snapshot bad reads back its
// data and then reports a checksum mismatch at the end, as a store that
// checksums its data does. An FSM that stops reading before the end would
// never see the error.
type corruptSnapshots struct {
	snapshot.Store
	mu  sync.Mutex
	bad string
}

func (s *corruptSnapshots) Open(id string) (wire.SnapshotMeta, snapshot.ReadSeekCloser, error) {
	meta, rc, err := s.Store.Open(id)
	s.mu.Lock()
	bad := s.bad
	s.mu.Unlock()
	if err != nil || id != bad {
		return meta, rc, err
	}
	data, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil {
		return meta, nil, err
	}
	return meta, &corruptReader{data: data}, nil
}

type corruptReader struct {
	data []byte
	off  int
}

func (r *corruptReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, fmt.Errorf("%w: checksum mismatch", snapshot.ErrCorrupt)
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}
func (r *corruptReader) Seek(int64, int) (int64, error) { return 0, errors.New("not seekable") }
func (r *corruptReader) Close() error                   { return nil }

func TestRestartSkipsACorruptSnapshotForAnOlderOne(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.TrailingLogs = 1000 }))
	snaps := &corruptSnapshots{Store: c.nodes["n1"].snaps}
	c.start(false)
	// n1's node reads snapshots through the corrupting wrapper.
	c.stopNode("n1")
	c.nodes["n1"].snapsWrap = snaps
	c.startNode("n1")
	for _, id := range c.ids {
		if err := c.node(id).Bootstrap(c.conf); err != nil {
			t.Fatal(err)
		}
	}
	lead := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	var res Applied
	var metas []wire.SnapshotMeta
	for round := 0; round < 2; round++ {
		for i := 0; i < 5; i++ {
			res = c.apply(lead, fmt.Sprintf("round%d-%d", round, i))
		}
		c.waitApplied(res.Index)
		meta, err := c.node("n1").Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		metas = append(metas, meta)
		snaps.mu.Lock()
		snaps.bad = meta.ID // the newest one turns out corrupt
		snaps.mu.Unlock()
	}
	c.stopNode("n1")
	c.startNode("n1")
	if got := c.stats("n1").SnapshotIndex; got != metas[0].Index {
		t.Fatalf("restarted from the snapshot at %d, want the older, valid one at %d (the newest, at %d, is corrupt)",
			got, metas[0].Index, metas[1].Index)
	}
	c.waitApplied(res.Index)
	h := c.nodes["n1"].fsm.history()
	if h[res.Index] != "round1-4" {
		t.Fatalf("restarted n1 lacks the last write: %v", h)
	}
	c.checkFSMsAgree()
}
