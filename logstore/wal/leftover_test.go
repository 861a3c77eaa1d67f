package wal

import (
	"errors"
	"os"
	"testing"
)

// failRemovals makes the removal of every file that fail picks fail, until
// the test ends.
func failRemovals(t *testing.T, fail func(path string) bool) {
	t.Helper()
	t.Cleanup(func() { removeFile = os.Remove })
	removeFile = func(path string) error {
		if fail(path) {
			return &os.PathError{Op: "remove", Path: path, Err: errors.New("injected failure")}
		}
		return os.Remove(path)
	}
}

// A compaction whose removal of a compacted segment fails goes on (the
// meta file already says where the log starts), and a later compaction
// removes the segments after the one left behind. The store must still
// open, with the log it acknowledged: a segment wholly below the
// compaction point is left over, whatever gap lies after it.
func TestSegmentLeftByAFailedRemovalIsNotAGapAtOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: smallSegments, CacheEntries: -1}
	s := openT(t, dir, opts)
	log := bigEntries(1, 41, 1, 1000)
	for i := 0; i < len(log); i += 4 {
		store(t, s, log[i:i+4])
	}
	first := segmentPaths(t, dir)[0]
	failRemovals(t, func(path string) bool { return path == first })
	if err := s.DeleteBefore(10); err != nil {
		t.Fatalf("DeleteBefore(10) with a failing removal: %v", err)
	}
	removeFile = os.Remove
	if err := s.DeleteBefore(30); err != nil {
		t.Fatalf("DeleteBefore(30): %v", err)
	}
	wantLog(t, s, log[29:])
	closeT(t, s)

	s = openClean(t, dir, opts)
	wantLog(t, s, log[29:])
	if paths := segmentPaths(t, dir); paths[0] == first {
		t.Fatalf("the compacted segment %s is still there after Open", first)
	}
}

// A log emptied by a compaction whose segment removals failed starts
// over below the compaction point: the segments left behind hold entries
// of the compacted log, and none of them may come back, nor stop the
// store from opening, once the compaction point is lowered.
func TestLeftoverSegmentsDoNotComeBackWhenTheLogStartsOver(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: smallSegments, CacheEntries: -1}
	s := openT(t, dir, opts)
	old := bigEntries(1, 41, 1, 1000)
	for i := 0; i < len(old); i += 4 {
		store(t, s, old[i:i+4])
	}
	failRemovals(t, func(string) bool { return true })
	if err := s.DeleteBefore(41); err != nil {
		t.Fatalf("DeleteBefore(41) with failing removals: %v", err)
	}
	removeFile = os.Remove
	wantLog(t, s, nil)
	// The log starts again at 5, below the compaction point, with four
	// entries: exactly where a segment of the old log starts again.
	fresh := bigEntries(5, 9, 2, 1000)
	store(t, s, fresh)
	wantLog(t, s, fresh)
	closeT(t, s)

	s = openClean(t, dir, opts)
	wantLog(t, s, fresh)
}
