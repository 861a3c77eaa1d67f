package wal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A crash makes a removal durable only once the directory is synced
// after it; until then each pending removal may or may not survive,
// independently of the others. A cut that removes several segments must
// leave, at every point a crash can hit, whatever subset of its pending
// removals survives, the segments of a prefix of the log: a segment
// removed while one after it stays is a gap that Open reports as
// corruption, so the node could not restart.
func TestCrashDuringACutLeavesNoGapBetweenSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: smallSegments, CacheEntries: -1}
	s := openClean(t, dir, opts)
	old := bigEntries(1, 41, 1, 1000)
	for i := 0; i < len(old); i += 4 {
		store(t, s, old[i:i+4])
	}
	segs := segmentPaths(t, dir)
	if len(segs) < 4 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	// Record the removals and directory syncs of the cut.
	type event struct{ removed string } // "" for a sync
	var events []event
	t.Cleanup(func() { removeFile, syncDir = os.Remove, syncDirOS })
	removeFile = func(path string) error {
		events = append(events, event{filepath.Base(path)})
		return os.Remove(path)
	}
	syncDir = func(d string) error {
		if d == dir {
			events = append(events, event{})
		}
		return syncDirOS(d)
	}
	store(t, s, bigEntries(6, 8, 2, 1000))
	removeFile, syncDir = os.Remove, syncDirOS

	names := make([]string, len(segs))
	for i, p := range segs {
		names[i] = filepath.Base(p)
	}
	var durable, pending []string
	for k, e := range events {
		if e.removed == "" {
			durable, pending = append(durable, pending...), nil
		} else {
			pending = append(pending, e.removed)
		}
		for subset := range 1 << len(pending) {
			gone := slices.Clone(durable)
			for i, p := range pending {
				if subset&(1<<i) != 0 {
					gone = append(gone, p)
				}
			}
			// The segments left must be a prefix of the ones before the cut.
			seenGone := false
			for _, n := range names {
				switch {
				case slices.Contains(gone, n):
					seenGone = true
				case seenGone:
					t.Fatalf("a crash after event %d of the cut (%v), with removals %v durable, leaves %s after a removed segment",
						k, events, gone, n)
				}
			}
		}
	}
}
