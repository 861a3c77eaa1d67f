// Package snapshottest is the conformance suite every snapshot.Store must
// pass. Each test is one sentence of the snapshot contract.
//
//	func TestConformance(t *testing.T) {
//		snapshottest.Run(t, func(t *testing.T) snapshot.Store { return memory.New(0) })
//	}
package snapshottest

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"testing"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/wire"
)

// Run checks the snapshot.Store contract on stores made by open, one fresh
// store per subtest. Stores must keep at least the newest three snapshots;
// open should keep any files under t.TempDir.
func Run(t *testing.T, open func(t *testing.T) snapshot.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s snapshot.Store)
	}{
		{"EmptyStoreListsNothing", testEmpty},
		{"OpenOfUnknownIDIsErrNotFound", testNotFound},
		{"ClosedSnapshotListsAndOpensWithItsMeta", testRoundTrip},
		{"StoreFillsInIDSizeAndChecksum", testStoreOwnsFields},
		{"AnnouncedSizeAndChecksumAreVerifiedAtClose", testAnnouncedChecksum},
		{"EmptySnapshotRoundTrips", testEmptyData},
		{"SnapshotIsInvisibleUntilClose", testInvisibleUntilClose},
		{"CancelLeavesNothing", testCancel},
		{"SinkMethodsFailWithErrClosedAfterCloseOrCancel", testSinkClosed},
		{"ListIsNewestFirst", testNewestFirst},
		{"ListKeepsTheNewestWhenPruning", testPruneKeepsNewest},
		{"ReaderIsSeekable", testSeek},
		{"ReaderOfAPrunedSnapshotStillReads", testReadWhilePruned},
		{"SinksCanBeWrittenInterleaved", testInterleavedSinks},
		{"ConcurrentCreateAndOpen", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testEmpty(t *testing.T, s snapshot.Store) {
	if metas := list(t, s); len(metas) != 0 {
		t.Fatalf("List on an empty store: got %+v, want none", metas)
	}
}

func testNotFound(t *testing.T, s snapshot.Store) {
	_, _, err := s.Open("no-such-snapshot")
	wantErr(t, err, snapshot.ErrNotFound, "Open of an unknown ID on an empty store")
	Write(t, s, Meta(5, 1), Data(5, 100))
	for _, id := range []string{"no-such-snapshot", "", "../x", "1-5"} {
		_, _, err = s.Open(id)
		wantErr(t, err, snapshot.ErrNotFound, fmt.Sprintf("Open(%q)", id))
	}
}

func testRoundTrip(t *testing.T, s snapshot.Store) {
	meta, data := Meta(42, 3), Data(42, 100_000)
	id := Write(t, s, meta, data)
	if id == "" {
		t.Fatal("Sink.ID is empty")
	}
	metas := list(t, s)
	if len(metas) != 1 {
		t.Fatalf("List after one snapshot: got %d, want 1", len(metas))
	}
	wantMeta(t, metas[0], id, meta, data)
	wantSnapshot(t, s, id, meta, data)
	// Opening twice gives two independent readers.
	wantSnapshot(t, s, id, meta, data)
}

func testStoreOwnsFields(t *testing.T, s snapshot.Store) {
	meta, data := Meta(7, 2), Data(7, 1000)
	meta.ID = "caller-chosen"
	id := Write(t, s, meta, data)
	if id == meta.ID {
		t.Fatalf("the store kept the caller's ID %q", id)
	}
	wantSnapshot(t, s, id, meta, data)
}

func testAnnouncedChecksum(t *testing.T, s snapshot.Store) {
	data := Data(8, 5000)
	meta := Meta(8, 2)
	meta.Size, meta.Checksum = int64(len(data)), crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	good := Write(t, s, meta, data)
	wantSnapshot(t, s, good, meta, data)

	for name, bad := range map[string]wire.SnapshotMeta{
		"wrong checksum": {Index: 9, Term: 2, Size: meta.Size, Checksum: meta.Checksum ^ 1},
		"wrong size":     {Index: 9, Term: 2, Size: meta.Size + 1, Checksum: meta.Checksum},
	} {
		sink, err := s.Create(bad)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := sink.Write(data); err != nil {
			t.Fatalf("Write: %v", err)
		}
		wantErr(t, sink.Close(), snapshot.ErrCorrupt, "Close of data that does not match the announced "+name)
		_, _, err = s.Open(sink.ID())
		wantErr(t, err, snapshot.ErrNotFound, "Open of a snapshot rejected at Close")
	}
	wantIDs(t, s, good)
}

func testEmptyData(t *testing.T, s snapshot.Store) {
	meta := Meta(1, 1)
	id := Write(t, s, meta, nil)
	wantSnapshot(t, s, id, meta, nil)
}

func testInvisibleUntilClose(t *testing.T, s snapshot.Store) {
	sink, err := s.Create(Meta(9, 1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := sink.Write(Data(9, 5000)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if metas := list(t, s); len(metas) != 0 {
		t.Fatalf("List before Sink.Close: got %+v, want none", metas)
	}
	_, _, err = s.Open(sink.ID())
	wantErr(t, err, snapshot.ErrNotFound, "Open before Sink.Close")
	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantIDs(t, s, sink.ID())
}

func testCancel(t *testing.T, s snapshot.Store) {
	keep := Write(t, s, Meta(3, 1), Data(3, 100))
	sink, err := s.Create(Meta(8, 2))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := sink.Write(Data(8, 10_000)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantIDs(t, s, keep)
	_, _, err = s.Open(sink.ID())
	wantErr(t, err, snapshot.ErrNotFound, "Open of a cancelled snapshot")
	wantSnapshot(t, s, keep, Meta(3, 1), Data(3, 100))
}

func testSinkClosed(t *testing.T, s snapshot.Store) {
	closed, err := s.Create(Meta(1, 1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := closed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = closed.Write([]byte("late"))
	wantErr(t, err, snapshot.ErrClosed, "Write after Close")
	wantErr(t, closed.Close(), snapshot.ErrClosed, "Close after Close")
	wantErr(t, closed.Cancel(), snapshot.ErrClosed, "Cancel after Close")
	// Cancel after Close does not undo the snapshot.
	wantSnapshot(t, s, closed.ID(), Meta(1, 1), nil)

	cancelled, err := s.Create(Meta(2, 1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := cancelled.Cancel(); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	_, err = cancelled.Write([]byte("late"))
	wantErr(t, err, snapshot.ErrClosed, "Write after Cancel")
	wantErr(t, cancelled.Close(), snapshot.ErrClosed, "Close after Cancel")
	wantErr(t, cancelled.Cancel(), snapshot.ErrClosed, "Cancel after Cancel")
	wantIDs(t, s, closed.ID())
}

func testNewestFirst(t *testing.T, s snapshot.Store) {
	a := Write(t, s, Meta(10, 1), Data(10, 10))
	b := Write(t, s, Meta(30, 2), Data(30, 10))
	c := Write(t, s, Meta(20, 2), Data(20, 10))
	wantIDs(t, s, b, c, a)
	// Of two snapshots at the same index, the later one is newer.
	if a == b || b == c || a == c {
		t.Fatalf("IDs are not unique: %q %q %q", a, b, c)
	}
	s2 := Write(t, s, Meta(30, 2), Data(31, 10))
	if s2 == b {
		t.Fatalf("a second snapshot at index 30 reused ID %q", b)
	}
	metas := list(t, s)
	if len(metas) < 3 || metas[0].ID != s2 || metas[1].ID != b || metas[2].ID != c {
		t.Fatalf("List after a second snapshot at index 30: got %+v, want %q, %q, %q first", metas, s2, b, c)
	}
	wantSnapshot(t, s, s2, Meta(30, 2), Data(31, 10))
}

func testPruneKeepsNewest(t *testing.T, s snapshot.Store) {
	var last string
	for i := uint64(1); i <= 12; i++ {
		last = Write(t, s, Meta(i*10, 1), Data(i, 64))
	}
	metas := list(t, s)
	if len(metas) < 3 {
		t.Fatalf("List after 12 snapshots: got %d, want at least the newest 3", len(metas))
	}
	if metas[0].ID != last || metas[1].Index != 110 || metas[2].Index != 100 {
		t.Fatalf("List after 12 snapshots: got %+v, want indexes 120, 110, 100 first", metas)
	}
	for i := 1; i < len(metas); i++ {
		if metas[i].Index >= metas[i-1].Index {
			t.Fatalf("List is not newest first: %+v", metas)
		}
	}
	wantSnapshot(t, s, last, Meta(120, 1), Data(12, 64))
}

func testSeek(t *testing.T, s snapshot.Store) {
	data := Data(77, 300_000)
	id := Write(t, s, Meta(77, 1), data)
	_, r, err := s.Open(id)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	// Resume a transfer from the middle.
	if pos, err := r.Seek(123_457, io.SeekStart); err != nil || pos != 123_457 {
		t.Fatalf("Seek(123457, start): got %d, %v", pos, err)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading from the middle to the end: %v", err)
	}
	if !bytes.Equal(rest, data[123_457:]) {
		t.Fatalf("reading from the middle: got %d bytes that differ", len(rest))
	}
	if pos, err := r.Seek(0, io.SeekCurrent); err != nil || pos != int64(len(data)) {
		t.Fatalf("Seek(0, current) at the end: got %d, %v", pos, err)
	}
	if pos, err := r.Seek(-10, io.SeekEnd); err != nil || pos != int64(len(data)-10) {
		t.Fatalf("Seek(-10, end): got %d, %v", pos, err)
	}
	tail, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(tail, data[len(data)-10:]) {
		t.Fatalf("reading the last 10 bytes: got %x, %v", tail, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatalf("Seek(0, start): %v", err)
	}
	all, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("reading again from the start: %d bytes, %v", len(all), err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to a negative position: got nil error")
	}
}

func testReadWhilePruned(t *testing.T, s snapshot.Store) {
	data := Data(1, 200_000)
	old := Write(t, s, Meta(1, 1), data)
	_, r, err := s.Open(old)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("reading the head: %v", err)
	}
	for i := uint64(2); i <= 10; i++ {
		Write(t, s, Meta(i, 1), Data(i, 100))
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading a snapshot pruned while open: %v", err)
	}
	if !bytes.Equal(append(head, rest...), data) {
		t.Fatal("a snapshot pruned while open read back different data")
	}
}

func testInterleavedSinks(t *testing.T, s snapshot.Store) {
	a, err := s.Create(Meta(5, 1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	b, err := s.Create(Meta(6, 1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if a.ID() == b.ID() {
		t.Fatalf("two sinks share ID %q", a.ID())
	}
	da, db := Data(5, 50_000), Data(6, 50_000)
	for off := 0; off < 50_000; off += 10_000 {
		if _, err := a.Write(da[off : off+10_000]); err != nil {
			t.Fatalf("Write a: %v", err)
		}
		if _, err := b.Write(db[off : off+10_000]); err != nil {
			t.Fatalf("Write b: %v", err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close b: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close a: %v", err)
	}
	wantIDs(t, s, b.ID(), a.ID())
	wantSnapshot(t, s, a.ID(), Meta(5, 1), da)
	wantSnapshot(t, s, b.ID(), Meta(6, 1), db)
}

// testConcurrent writes snapshots from two goroutines while three others
// list and read them. A reader may find a listed snapshot pruned (ErrNotFound)
// but must never read wrong data.
func testConcurrent(t *testing.T, s snapshot.Store) {
	const perWriter = 8
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for w := range uint64(2) {
		writers.Go(func() {
			for i := range uint64(perWriter) {
				index := 100*w + i + 1
				sink, err := s.Create(Meta(index, 1))
				if err == nil {
					_, err = sink.Write(Data(index, 20_000+int(index)))
				}
				if err == nil {
					err = sink.Close()
				}
				if err != nil {
					errs <- fmt.Errorf("writing snapshot %d: %w", index, err)
					return
				}
			}
		})
	}
	for range 3 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := readAllListed(s); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := readAllListed(s); err != nil {
		t.Fatal(err)
	}
	if metas := list(t, s); len(metas) < 3 || metas[0].Index != 100+perWriter {
		t.Fatalf("List after the writers: got %+v, want index %d first", metas, 100+perWriter)
	}
}

func readAllListed(s snapshot.Store) error {
	metas, err := s.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	for _, m := range metas {
		got, data, err := ReadAll(s, m.ID)
		if errors.Is(err, snapshot.ErrNotFound) {
			continue // pruned since List
		}
		if err != nil {
			return fmt.Errorf("reading snapshot %s: %w", m.ID, err)
		}
		if got.Index != m.Index || !bytes.Equal(data, Data(m.Index, 20_000+int(m.Index))) {
			return fmt.Errorf("snapshot %s (index %d) read back wrong data (%d bytes)", m.ID, got.Index, len(data))
		}
	}
	return nil
}
