package wal

import (
	"testing"

	"github.com/mandate-raft/mandate/logstore/logstoretest"
)

// Open takes a frame larger than maxFrameBody for a damaged one (a torn
// append if it is the last), so an entry too large for a frame must be
// refused before anything is written: acknowledged, it would be cut off
// at the next Open. The store stays usable.
func TestEntryLargerThanAFrameIsRefusedNotAcknowledged(t *testing.T) {
	old := maxFrameBody
	maxFrameBody = 4096 // the real bound is 1 GiB; the rule is the same
	t.Cleanup(func() { maxFrameBody = old })
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	log := logstoretest.Make(1, 6, 1)
	store(t, s, log)
	if err := s.StoreEntries(bigEntries(6, 7, 1, 5000)); err == nil {
		closeT(t, s)
		s = openClean(t, dir, Options{})
		last, err := s.LastIndex()
		t.Fatalf("an entry larger than a frame was acknowledged; after reopen LastIndex is %d (%v)", last, err)
	}
	wantLog(t, s, log)
	more := logstoretest.Make(6, 8, 1)
	store(t, s, more)
	closeT(t, s)
	s = openClean(t, dir, Options{})
	wantLog(t, s, append(log, more...))
}
