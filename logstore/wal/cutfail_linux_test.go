package wal

import (
	"errors"
	"syscall"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
)

// A replacing batch whose cut fails part way (here: the segments after
// the cut point are removed, then reserving the space of the segment cut
// in its middle fails) fails the store, and the store's view of the log
// must still match its segments: every read of an index the cut removed
// is an error, never a read of a segment that is gone, and every entry
// before the cut point is still served. Reopened with room again, the
// log keeps every entry before the cut point.
func TestFailedCutKeepsReadsWithinTheSegmentsLeft(t *testing.T) {
	dir := t.TempDir()
	const segSize = 64 << 10
	opts := Options{SegmentSize: segSize, CacheEntries: -1}
	s := openClean(t, dir, opts)
	old := bigEntries(1, 201, 1, 1000)
	for i := 0; i < len(old); i += 10 {
		store(t, s, old[i:i+10])
	}
	if n := len(segmentPaths(t, dir)); n < 3 {
		t.Fatalf("%d segments, want at least 3", n)
	}
	// Cut in the middle of the first segment: every later segment is
	// removed, then the first is truncated and its space reserved again,
	// which the file size limit makes fail.
	const from = 30
	restore := limitFileSize(t, segSize/2)
	err := s.StoreEntries(bigEntries(from, from+1, 2, 1000))
	restore()
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("replacing from %d with a failing cut: got %v, want EFBIG", from, err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if last < from-1 {
		t.Fatalf("LastIndex %d after the failed cut: entries before %d are lost", last, from)
	}
	for _, idx := range []uint64{from - 1, from, 100, 200} {
		got, err := s.Entries(idx, idx+1, 0)
		switch {
		case idx <= last && err == nil:
			if !logstoretest.EntryEqual(got[0], old[idx-1]) {
				t.Fatalf("entry %d after the failed cut: %+v, want %+v", idx, got[0], old[idx-1])
			}
		case idx < from:
			t.Fatalf("Entries(%d) after the failed cut: %v", idx, err)
		case err == nil:
			t.Fatalf("Entries(%d) past LastIndex %d served an entry", idx, last)
		case idx > last && !errors.Is(err, logstore.ErrUnavailable):
			t.Fatalf("Entries(%d) past LastIndex %d: %v, want ErrUnavailable", idx, last, err)
		}
	}
	if err := s.StoreEntries(bigEntries(from, from+1, 2, 1000)); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("StoreEntries after the failed cut: %v, want the failure (EFBIG)", err)
	}
	closeT(t, s)

	s = openClean(t, dir, opts)
	last, err = s.LastIndex()
	if err != nil || last < from-1 {
		t.Fatalf("LastIndex after reopen: %d, %v; want at least %d", last, err, from-1)
	}
	wantLog(t, s, old[:last])
	store(t, s, bigEntries(from, from+5, 2, 1000))
	wantLog(t, s, append(old[:from-1:from-1], bigEntries(from, from+5, 2, 1000)...))
}
