package raft

import (
	"errors"
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
