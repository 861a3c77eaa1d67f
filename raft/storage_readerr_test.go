package raft

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/wire"
)

// A log whose entry at the snapshot's index cannot be read is not a log
// that disagrees with the snapshot: on restart the node refuses to start
// with the read's error, and keeps every entry, rather than discard the
// log (with entries after the snapshot it may have acknowledged).
func TestStorageRestartRefusesALogItCannotReadAtTheSnapshot(t *testing.T) {
	disk := &corruptingStore{Store: memory.New()}
	if err := disk.StoreEntries(ents(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	disk.armed.Store(true)
	_, err := newLogStorage(disk, wire.SnapshotMeta{ID: "s", Index: 5, Term: 1})
	if !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("got %v, want the read's ErrCorrupt", err)
	}
	if first, _ := disk.FirstIndex(); first != 1 {
		t.Errorf("the store's first index is %d, want 1: entries were discarded", first)
	}
	if last, _ := disk.LastIndex(); last != 10 {
		t.Errorf("the store's last index is %d, want 10: entries were discarded", last)
	}
}

// Likewise a snapshot from the leader whose index the log holds but
// cannot read: the install fails with the read's error (the node stops)
// instead of taking the log for a conflicting one and discarding the
// entries after the snapshot.
func TestStorageInstallSnapshotRefusesALogItCannotRead(t *testing.T) {
	disk := &corruptingStore{Store: memory.New()}
	if err := disk.StoreEntries(ents(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	// Reopened: nothing is cached, so the term comes from the store.
	s := mustStorage(t, disk, wire.SnapshotMeta{})
	disk.armed.Store(true)
	if err := s.installSnapshot(wire.SnapshotMeta{ID: "s", Index: 5, Term: 1}); !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("got %v, want the read's ErrCorrupt", err)
	}
	if last, _ := disk.LastIndex(); last != 10 {
		t.Errorf("the store's last index is %d, want 10: entries after the snapshot were discarded", last)
	}
	if s.LastIndex() != 10 {
		t.Errorf("the core's last index is %d, want 10", s.LastIndex())
	}
}

// The core needs the term of the last entry at every election and vote
// and cannot do without it (it panics). The storage keeps it in memory,
// so that a store whose reads start failing after the node started (the
// cache is empty after a restart) stops the node with the store's error
// instead of crashing the process.
func TestStorageAnswersTheLastTermWithoutTheStore(t *testing.T) {
	disk := &corruptingStore{Store: memory.New()}
	if err := disk.StoreEntries(ents(1, 10, 3)); err != nil {
		t.Fatal(err)
	}
	s := mustStorage(t, disk, wire.SnapshotMeta{})
	disk.armed.Store(true)
	if term, err := s.Term(10); err != nil || term != 3 {
		t.Fatalf("term of the last entry after a restart: %d, %v; want 3", term, err)
	}
	disk.armed.Store(false)
	if err := s.append(ents(8, 12, 4)); err != nil {
		t.Fatal(err)
	}
	disk.armed.Store(true)
	if term, err := s.Term(12); err != nil || term != 4 {
		t.Fatalf("term of the last entry after an append: %d, %v; want 4", term, err)
	}
	if err := s.installSnapshot(wire.SnapshotMeta{ID: "s", Index: 20, Term: 5}); err != nil {
		t.Fatal(err)
	}
	if term, err := s.Term(20); err != nil || term != 5 {
		t.Fatalf("term of the snapshot past the log: %d, %v; want 5", term, err)
	}
}

// The same through a running node: restarted, it applies its log, then
// its store's reads fail and the rest of the cluster goes quiet, so it
// campaigns, which needs its last term. The process does not crash: the
// node campaigns, and if it stops, it stops with the store's error.
func TestNodeWhoseStoreStopsReadingAfterRestartDoesNotCrash(t *testing.T) {
	c := newTestCluster(t, 3)
	disk := &corruptingStore{Store: c.nodes["n1"].store}
	c.nodes["n1"].store = disk
	c.start(true)
	lead := c.waitLeader()
	for i := 0; i < 5; i++ {
		c.apply(lead, fmt.Sprintf("before-%d", i))
	}
	commit := c.stats(lead).Commit
	c.waitApplied(commit)
	c.stopNode("n1")
	n := c.startNode("n1")
	c.waitApplied(commit)
	disk.armed.Store(true)
	for _, id := range c.others("n1") {
		c.isolate(id)
	}
	waitFor(t, "n1 to campaign or stop", func() bool {
		select {
		case <-n.Done():
			return true
		default:
			st := n.State()
			return st == PreCandidate || st == Candidate
		}
	})
	if err := n.Err(); err != nil && !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("Err() = %v, want nil or the store's ErrCorrupt", err)
	}
}
