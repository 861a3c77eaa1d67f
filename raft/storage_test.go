package raft

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/wire"
)

func ents(from, to, term uint64) []wire.Entry {
	var out []wire.Entry
	for i := from; i <= to; i++ {
		out = append(out, wire.Entry{Index: i, Term: term, Data: []byte(fmt.Sprintf("%d/%d", i, term))})
	}
	return out
}

func mustStorage(t *testing.T, store logstore.Store, snap wire.SnapshotMeta) *logStorage {
	t.Helper()
	s, err := newLogStorage(store, snap)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStorageFreshLog(t *testing.T) {
	s := mustStorage(t, memory.New(), wire.SnapshotMeta{})
	if s.FirstIndex() != 1 || s.LastIndex() != 0 {
		t.Fatalf("fresh log: first %d last %d, want 1 and 0", s.FirstIndex(), s.LastIndex())
	}
	if term, err := s.Term(0); err != nil || term != 0 {
		t.Fatalf("Term(0) = %d, %v", term, err)
	}
	if _, err := s.Entries(1, 2, 0); !errors.Is(err, logstore.ErrUnavailable) {
		t.Fatalf("Entries past the end: %v", err)
	}
}

func TestStorageAppendReplaceAndReadBack(t *testing.T) {
	store := memory.New()
	s := mustStorage(t, store, wire.SnapshotMeta{})
	if err := s.append(ents(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	held, err := s.Entries(5, 11, 0)
	if err != nil || len(held) != 6 {
		t.Fatalf("Entries(5,11) = %d entries, %v", len(held), err)
	}
	// A new leader's entries replace the suffix from 7 on.
	if err := s.append(ents(7, 8, 2)); err != nil {
		t.Fatal(err)
	}
	if s.LastIndex() != 8 {
		t.Fatalf("last = %d, want 8", s.LastIndex())
	}
	if term, _ := s.Term(7); term != 2 {
		t.Fatalf("Term(7) = %d, want 2", term)
	}
	// A reader's earlier slice is never changed under it.
	if held[2].Index != 7 || held[2].Term != 1 {
		t.Fatalf("slice handed out earlier changed: %+v", held[2])
	}
	// The store agrees with the cache.
	stored, err := store.Entries(1, 9, 0)
	if err != nil || len(stored) != 8 || stored[7].Term != 2 {
		t.Fatalf("store holds %+v, %v", stored, err)
	}
	if _, err := s.Entries(1, 10, 0); !errors.Is(err, logstore.ErrUnavailable) {
		t.Fatalf("Entries past the new end: %v", err)
	}
	limited, _ := s.Entries(1, 9, 1)
	if len(limited) != 1 {
		t.Fatalf("maxBytes 1 should still return one entry, got %d", len(limited))
	}
}

func TestStorageReadsBelowTheCacheFromTheStore(t *testing.T) {
	store := memory.New()
	s := mustStorage(t, store, wire.SnapshotMeta{})
	total := uint64(2 * cacheMaxEntries)
	if err := s.append(ents(1, total, 1)); err != nil {
		t.Fatal(err)
	}
	if limit := cacheMaxEntries + cacheMaxEntries/4; len(s.cache) > limit {
		t.Fatalf("cache holds %d entries, bound is %d", len(s.cache), limit)
	}
	if s.cache[0].Index == 1 {
		t.Fatal("the cache kept the oldest entries")
	}
	got, err := s.Entries(1, 4, 0)
	if err != nil || len(got) != 3 || got[0].Index != 1 {
		t.Fatalf("old entries: %+v, %v", got, err)
	}
	if term, err := s.Term(2); err != nil || term != 1 {
		t.Fatalf("Term(2) = %d, %v", term, err)
	}
}

func TestStorageCacheKeepsReadersViewAndBoundsMemory(t *testing.T) {
	s := mustStorage(t, memory.New(), wire.SnapshotMeta{})
	if err := s.append(ents(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	held, err := s.Entries(1, 11, 0)
	if err != nil || len(held) != 10 {
		t.Fatalf("Entries(1,11) = %d entries, %v", len(held), err)
	}
	// Enough appends to drop the held entries from the cache and move it
	// to new arrays several times.
	last := uint64(10)
	for last < 5*cacheMaxEntries {
		if err := s.append(ents(last+1, last+100, 1)); err != nil {
			t.Fatal(err)
		}
		last += 100
		if len(s.cache) > cacheMaxEntries || cap(s.cache) > cacheArrayCap {
			t.Fatalf("after %d entries the cache holds %d in an array of %d; bounds %d and %d",
				last, len(s.cache), cap(s.cache), cacheMaxEntries, cacheArrayCap)
		}
	}
	for i, e := range held {
		if e.Index != uint64(i+1) || string(e.Data) != fmt.Sprintf("%d/1", i+1) {
			t.Fatalf("entry %d handed out earlier changed to %+v", i+1, e)
		}
	}
	// Large entries: dropped ones must not stay pinned by the array.
	big := make([]byte, 1<<20)
	for range 3 * cacheMaxBytes >> 20 {
		last++
		if err := s.append([]wire.Entry{{Index: last, Term: 1, Data: big}}); err != nil {
			t.Fatal(err)
		}
		if s.cacheBytes > cacheMaxBytes || s.deadBytes > cacheMaxBytes/4 {
			t.Fatalf("at %d: cache holds %d bytes and pins %d dropped bytes; bounds %d and %d",
				last, s.cacheBytes, s.deadBytes, cacheMaxBytes, cacheMaxBytes/4)
		}
	}
	if e, _ := s.Entries(last, last+1, 0); len(e) != 1 || len(e[0].Data) != len(big) {
		t.Fatalf("newest entry not served from the cache: %d entries", len(e))
	}
}

func TestStorageCompactKeepsBase(t *testing.T) {
	store := memory.New()
	s := mustStorage(t, store, wire.SnapshotMeta{})
	_ = s.append(ents(1, 5, 1))
	_ = s.append(ents(6, 10, 2))
	s.setSnapshot(wire.SnapshotMeta{ID: "s", Index: 8, Term: 2})
	if err := s.compact(7); err != nil {
		t.Fatal(err)
	}
	if s.FirstIndex() != 7 {
		t.Fatalf("first = %d, want 7", s.FirstIndex())
	}
	if term, err := s.Term(6); err != nil || term != 2 {
		t.Fatalf("Term of the base = %d, %v; want 2", term, err)
	}
	if _, err := s.Term(5); !errors.Is(err, logstore.ErrCompacted) {
		t.Fatalf("Term below the base: %v", err)
	}
	if _, err := s.Entries(6, 8, 0); !errors.Is(err, logstore.ErrCompacted) {
		t.Fatalf("Entries below first: %v", err)
	}
	// Compaction never goes past the snapshot.
	if err := s.compact(100); err != nil {
		t.Fatal(err)
	}
	if s.FirstIndex() != 9 || s.LastIndex() != 10 {
		t.Fatalf("after compacting to the snapshot: first %d last %d, want 9 and 10", s.FirstIndex(), s.LastIndex())
	}
	// A restart finds the same bounds.
	s2 := mustStorage(t, store, wire.SnapshotMeta{ID: "s", Index: 8, Term: 2})
	if s2.FirstIndex() != 9 || s2.LastIndex() != 10 {
		t.Fatalf("restart: first %d last %d", s2.FirstIndex(), s2.LastIndex())
	}
}

func TestStorageInstallSnapshotKeepsMatchingSuffix(t *testing.T) {
	store := memory.New()
	s := mustStorage(t, store, wire.SnapshotMeta{})
	_ = s.append(ents(1, 10, 1))
	if err := s.installSnapshot(wire.SnapshotMeta{ID: "x", Index: 6, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if s.FirstIndex() != 7 || s.LastIndex() != 10 {
		t.Fatalf("first %d last %d, want 7 and 10", s.FirstIndex(), s.LastIndex())
	}
	if s.Snapshot().ID != "x" {
		t.Fatalf("snapshot not recorded: %+v", s.Snapshot())
	}
}

func TestStorageInstallSnapshotDiscardsConflictingLog(t *testing.T) {
	store := memory.New()
	s := mustStorage(t, store, wire.SnapshotMeta{})
	_ = s.append(ents(1, 10, 1))
	if err := s.installSnapshot(wire.SnapshotMeta{ID: "x", Index: 6, Term: 3}); err != nil {
		t.Fatal(err)
	}
	if s.FirstIndex() != 7 || s.LastIndex() != 6 {
		t.Fatalf("first %d last %d, want 7 and 6 (empty log after the snapshot)", s.FirstIndex(), s.LastIndex())
	}
	if term, _ := s.Term(6); term != 3 {
		t.Fatalf("Term(6) = %d, want the snapshot's 3", term)
	}
	// The leader then appends after the snapshot.
	if err := s.append(ents(7, 8, 3)); err != nil {
		t.Fatal(err)
	}
	if s.LastIndex() != 8 {
		t.Fatalf("last = %d", s.LastIndex())
	}
}

func TestStorageRestartDiscardsLogThatConflictsWithSnapshot(t *testing.T) {
	// The node stored a leader's snapshot and crashed before discarding
	// its old, conflicting log.
	store := memory.New()
	_ = store.StoreEntries(ents(1, 10, 1))
	s := mustStorage(t, store, wire.SnapshotMeta{ID: "x", Index: 12, Term: 4})
	if s.FirstIndex() != 13 || s.LastIndex() != 12 {
		t.Fatalf("first %d last %d, want 13 and 12", s.FirstIndex(), s.LastIndex())
	}
	if last, _ := store.LastIndex(); last != 0 {
		t.Fatalf("conflicting entries left in the store, last %d", last)
	}
}

func TestEntryAccumulatorLaterEntriesReplace(t *testing.T) {
	var a entryAccumulator
	first := ents(1, 5, 1)
	a.add(first)
	a.add(ents(6, 7, 1))
	a.add(ents(4, 4, 2))
	a.add(ents(5, 6, 2))
	got := a.take()
	if len(got) != 6 || got[3].Term != 2 || got[5].Index != 6 || got[5].Term != 2 {
		t.Fatalf("merged run: %+v", got)
	}
	if first[3].Term != 1 {
		t.Fatal("the Ready's own slice was modified")
	}
	a.add(ents(3, 4, 1))
	a.add(ents(1, 2, 5))
	if got := a.take(); len(got) != 2 || got[0].Term != 5 {
		t.Fatalf("a batch from a lower index replaces everything: %+v", got)
	}
}

func TestStorageRefusesALogWithAGapAfterTheSnapshot(t *testing.T) {
	store := memory.New()
	_ = store.StoreEntries(ents(1, 10, 1))
	_ = store.DeleteBefore(6)
	for _, snap := range []wire.SnapshotMeta{{}, {ID: "old", Index: 3, Term: 1}} {
		if _, err := newLogStorage(store, snap); !errors.Is(err, logstore.ErrCorrupt) {
			t.Errorf("log from 6 with snapshot at %d: got %v, want ErrCorrupt", snap.Index, err)
		}
	}
	if _, err := newLogStorage(store, wire.SnapshotMeta{ID: "s", Index: 5, Term: 1}); err != nil {
		t.Errorf("log from 6 with snapshot at 5: %v", err)
	}
}

func TestStorageReportsCorruptReadsWhileRunning(t *testing.T) {
	disk := &corruptingStore{Store: memory.New()}
	s := mustStorage(t, disk, wire.SnapshotMeta{})
	var reported error
	s.onCorrupt = func(err error) { reported = err }
	if err := s.append(ents(1, uint64(2*cacheMaxEntries), 1)); err != nil {
		t.Fatal(err)
	}
	disk.armed.Store(true)
	// Recent entries come from the cache; old ones from the (corrupt) store.
	if _, err := s.Entries(uint64(2*cacheMaxEntries), uint64(2*cacheMaxEntries)+1, 0); err != nil {
		t.Fatalf("cached read: %v", err)
	}
	if reported != nil {
		t.Fatalf("a cached read reported corruption: %v", reported)
	}
	if _, err := s.Entries(1, 3, 0); !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("old read: got %v, want ErrCorrupt", err)
	}
	if !errors.Is(reported, logstore.ErrCorrupt) {
		t.Fatalf("corruption not reported: %v", reported)
	}
}

func TestNodeRefusesHardStateCommittingPastItsLog(t *testing.T) {
	c := newTestCluster(t, 1)
	store := c.nodes["n1"].store
	cc := c.conf.Clone()
	if err := store.StoreEntries([]wire.Entry{{Index: 1, Term: 1, Type: wire.EntryConfig, Config: &cc}}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetHardState(wire.HardState{Term: 1, Commit: 5}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.net.NewTransport(c.nodes["n1"].addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, err = NewNode(c.config("n1"), newTestFSM(), store, c.nodes["n1"].snaps, tr)
	if !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}
