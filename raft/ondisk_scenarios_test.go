package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/ondisk"
	"github.com/mandate-raft/mandate/wire"
)

// smallSegments makes the wal engine start a new segment every few dozen
// entries, so that the scenarios below cross many segment boundaries.
const smallSegments = 4096

// onDiskCluster is a test cluster whose nodes keep their logs on disk in
// engine, each in its own directory, reopened as after a process restart.
type onDiskCluster struct {
	*testCluster
	engine string
	dirs   map[wire.NodeID]string
}

func newOnDiskCluster(t *testing.T, engine string, size int, opts ...clusterOpt) *onDiskCluster {
	t.Helper()
	c := &onDiskCluster{testCluster: newTestCluster(t, size, opts...), engine: engine, dirs: map[wire.NodeID]string{}}
	for _, id := range c.ids {
		c.dirs[id] = t.TempDir()
		c.openStore(id)
	}
	// Runs before the cluster's own shutdown clean-up (clean-ups run last
	// first): the nodes stop, then their stores close.
	t.Cleanup(func() {
		for _, id := range c.ids {
			c.stopNode(id)
			_ = c.nodes[id].store.Close()
		}
	})
	return c
}

func (c *onDiskCluster) openStore(id wire.NodeID) {
	c.t.Helper()
	s, err := ondisk.Open(c.dirs[id], c.engine, ondisk.Options{WALSegmentSize: smallSegments})
	if err != nil {
		c.t.Fatalf("open the store of %s: %v", id, err)
	}
	c.nodes[id].store = s
}

// restart stops node id, closes its store, reopens it and starts the node
// again.
func (c *onDiskCluster) restart(id wire.NodeID) {
	c.t.Helper()
	c.stopNode(id)
	if err := c.nodes[id].store.Close(); err != nil {
		c.t.Fatalf("close the store of %s: %v", id, err)
	}
	c.openStore(id)
	c.startNode(id)
}

// restartAllAndCheck restarts every node in turn, then checks that the
// cluster applies up to last again, that every node holds every
// acknowledged command, and that the FSMs agree.
func (c *onDiskCluster) restartAllAndCheck(t *testing.T, acks *ackLog, last uint64) {
	t.Helper()
	for _, id := range c.ids {
		c.restart(id)
	}
	c.waitLeader()
	c.waitApplied(last)
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	c.checkFSMsAgree()
}

// A follower that falls far behind gets the leader's snapshot (its store
// drops its whole log, then takes entries from past the snapshot), and
// keeps what it has across a restart: on each engine, with the wal's
// segments small.
func TestOnDiskFollowerBroughtBackBySnapshotRestarts(t *testing.T) {
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) {
			c := newOnDiskCluster(t, engine, 3, withConfig(func(cfg *Config) { cfg.TrailingLogs = 2 }))
			c.start(true)
			var acks ackLog
			lead := c.waitLeader()
			lagger := c.others(lead)[0]
			for i := 0; i < 20; i++ {
				acks.add(fmt.Sprintf("before-%d", i), c.apply(lead, fmt.Sprintf("before-%d", i)).Index)
			}
			c.waitApplied(c.stats(lead).Commit)
			c.stopNode(lagger)
			for i := 0; i < 200; i++ {
				acks.add(fmt.Sprintf("away-%d", i), c.apply(lead, fmt.Sprintf("away-%d", i)).Index)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
			defer cancel()
			meta, err := c.node(lead).Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.startNode(lagger)
			waitFor(t, "the follower to install the snapshot", func() bool {
				metas, err := c.nodes[lagger].snaps.List()
				return err == nil && len(metas) > 0 && metas[0].Index >= meta.Index
			})
			for i := 0; i < 50; i++ {
				acks.add(fmt.Sprintf("after-%d", i), c.applyRetry(fmt.Sprintf("after-%d", i)).Index)
			}
			last := c.applyRetry("last")
			c.waitApplied(last.Index)
			c.restart(lagger)
			c.waitApplied(last.Index)
			acks.checkPresent(t, lagger, c.nodes[lagger].fsm)
			c.checkFSMsAgree()
			// And the whole cluster restarts on what it stored.
			c.restartAllAndCheck(t, &acks, last.Index)
		})
	}
}

// A leader that snapshots often compacts its log many times, across many
// segments; every node restarts on what is left and loses nothing.
func TestOnDiskLogCompactedManyTimesRestarts(t *testing.T) {
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) {
			c := newOnDiskCluster(t, engine, 3, withConfig(func(cfg *Config) {
				cfg.SnapshotThreshold = 25
				cfg.SnapshotInterval = 5 * time.Millisecond
				cfg.TrailingLogs = 3
			}))
			c.start(true)
			var acks ackLog
			var last Applied
			for round := 0; round < 3; round++ {
				for i := 0; i < 150; i++ {
					cmd := fmt.Sprintf("r%d-%d", round, i)
					last = c.applyRetry(cmd)
					acks.add(cmd, last.Index)
				}
				c.waitApplied(last.Index)
				lead := c.waitLeader()
				waitFor(t, "the leader to compact its log", func() bool {
					return c.stats(lead).FirstIndex > last.Index-100
				})
				c.restartAllAndCheck(t, &acks, last.Index)
			}
		})
	}
}

// An isolated leader appends entries that never commit; the new leader's
// log replaces them (the old leader's store cuts its suffix, across
// segments), and the old leader restarts on the cut log without them.
func TestOnDiskReplacedSuffixStaysReplacedAcrossRestart(t *testing.T) {
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) {
			c := newOnDiskCluster(t, engine, 3)
			c.start(true)
			old := c.waitLeader()
			c.apply(old, "committed-first")
			c.isolate(old)
			const doomed = 60
			errc := make(chan error, doomed)
			for i := 0; i < doomed; i++ {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
					defer cancel()
					_, err := c.node(old).Apply(ctx, []byte(fmt.Sprintf("doomed-%d", i)))
					errc <- err
				}()
			}
			rest := c.others(old)
			lead := c.waitLeader(rest...)
			var acks ackLog
			var last Applied
			for i := 0; i < 20; i++ {
				last = c.apply(lead, fmt.Sprintf("majority-%d", i))
				acks.add(fmt.Sprintf("majority-%d", i), last.Index)
			}
			for i := 0; i < doomed; i++ {
				if err := <-errc; err == nil || !errors.Is(err, ErrOutcomeUnknown) && !isNotCommitted(err) {
					t.Fatalf("isolated leader's Apply: %v, want a failure", err)
				}
			}
			c.net.Heal()
			c.waitApplied(last.Index)
			c.restart(old)
			last = c.applyRetry("after-restart")
			c.waitApplied(last.Index)
			acks.checkPresent(t, old, c.nodes[old].fsm)
			c.checkFSMsAgree()
			for _, id := range c.ids {
				for i := 0; i < doomed; i++ {
					if c.nodes[id].fsm.contains(fmt.Sprintf("doomed-%d", i)) {
						t.Fatalf("%s applied an uncommitted write of the isolated leader", id)
					}
				}
			}
		})
	}
}

// The storage stage's snapshot paths on each engine, each followed by a
// reopen of the store: a snapshot that conflicts with a longer log (the
// whole log goes, then entries follow the snapshot, below the old end),
// one past the end of the log, and one inside it that keeps the suffix.
func TestOnDiskStorageSnapshotInstallsSurviveReopen(t *testing.T) {
	cases := []struct {
		name        string
		snap        wire.SnapshotMeta
		next        []wire.Entry // appended after the install
		first, last uint64       // the core's bounds after reopening
	}{
		{"conflicts with a longer log", wire.SnapshotMeta{ID: "s", Index: 150, Term: 5}, ents(151, 160, 5), 151, 160},
		{"past the end of the log", wire.SnapshotMeta{ID: "s", Index: 400, Term: 5}, ents(401, 410, 5), 401, 410},
		{"inside the log, matching", wire.SnapshotMeta{ID: "s", Index: 150, Term: 1}, ents(301, 310, 1), 151, 310},
		{"at the log's last entry", wire.SnapshotMeta{ID: "s", Index: 300, Term: 1}, nil, 301, 300},
	}
	for _, engine := range ondisk.Engines {
		for _, tc := range cases {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				open := func() logstore.Store {
					s, err := ondisk.Open(dir, engine, ondisk.Options{WALSegmentSize: smallSegments})
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
				store := open()
				s := mustStorage(t, store, wire.SnapshotMeta{})
				for i := uint64(1); i <= 300; i += 50 {
					if err := s.append(ents(i, i+49, 1)); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.installSnapshot(tc.snap); err != nil {
					t.Fatal(err)
				}
				if err := s.append(tc.next); err != nil {
					t.Fatal(err)
				}
				if err := store.Close(); err != nil {
					t.Fatal(err)
				}
				store = open()
				defer store.Close()
				s = mustStorage(t, store, tc.snap)
				if s.FirstIndex() != tc.first || s.LastIndex() != tc.last {
					t.Fatalf("after reopening: first %d last %d, want %d and %d", s.FirstIndex(), s.LastIndex(), tc.first, tc.last)
				}
				for i := tc.first; i <= tc.last; i++ {
					if _, err := s.Term(i); err != nil {
						t.Fatalf("term of %d: %v", i, err)
					}
				}
				if tc.last >= tc.first {
					got, err := s.Entries(tc.first, tc.last+1, 0)
					if err != nil || uint64(len(got)) != tc.last-tc.first+1 || got[len(got)-1].Term != tc.next[len(tc.next)-1].Term {
						t.Fatalf("entries [%d, %d]: %d entries, %v", tc.first, tc.last, len(got), err)
					}
				}
			})
		}
	}
}
