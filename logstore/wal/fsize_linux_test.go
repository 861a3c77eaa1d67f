package wal

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// limitFileSize makes every write of this process past size bytes into a
// file fail with EFBIG (the Go runtime ignores SIGXFSZ), until the
// returned function restores the limit. No test of this package runs in
// parallel with another, so only the store under test writes meanwhile.
func limitFileSize(t *testing.T, size uint64) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	lim := old
	lim.Cur = size
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Errorf("restore RLIMIT_FSIZE: %v", err)
		}
	}
	t.Cleanup(restore)
	return restore
}

// A write that fails part way (a full disk, a file size limit) leaves the
// segment holding part of a batch: the store must say so, naming the file
// and the cause, serve only what it acknowledged, refuse every later
// write instead of appending after the half-written frames, and, reopened
// once there is room, hold every acknowledged entry and go on.
func TestFailedWriteFailsLaterWritesAndKeepsTheLog(t *testing.T) {
	const limit = 24 << 10
	dir := t.TempDir()
	// Segments larger than the limit: the space is reserved before the
	// limit is set, and the append that crosses it fails part way.
	opts := Options{SegmentSize: 256 << 10, CacheEntries: -1}
	s := openClean(t, dir, opts)
	var acked []wire.Entry
	next := uint64(1)
	batch := func() []wire.Entry {
		b := bigEntries(next, next+3, 1, 1000)
		next += 3
		return b
	}
	for range 3 {
		b := batch()
		store(t, s, b)
		acked = append(acked, b...)
	}
	if err := s.SetHardState(wire.HardState{Term: 1, Vote: "n1"}); err != nil {
		t.Fatal(err)
	}
	restore := limitFileSize(t, limit)
	var failure error
	for range 20 {
		b := batch()
		if failure = s.StoreEntries(b); failure != nil {
			break
		}
		acked = append(acked, b...)
	}
	if failure == nil {
		t.Fatalf("20 batches past a %d-byte file size limit did not fail", limit)
	}
	segs := segmentPaths(t, dir)
	tail := segs[len(segs)-1]
	if !errors.Is(failure, syscall.EFBIG) || !strings.Contains(failure.Error(), tail) {
		t.Fatalf("the failed write said %v; want EFBIG naming %s", failure, tail)
	}
	// The half-written batch is not served.
	wantLog(t, s, acked)
	// Nothing is written after it, whatever the write, even with room
	// again, and each refusal gives the first failure's cause.
	restore()
	ackedLast := acked[len(acked)-1].Index
	for what, err := range map[string]error{
		"StoreEntries after the log": s.StoreEntries(bigEntries(ackedLast+1, ackedLast+2, 1, 100)),
		"StoreEntries replacing":     s.StoreEntries(bigEntries(ackedLast, ackedLast+1, 2, 100)),
		"StoreEntries repeating":     s.StoreEntries(acked[len(acked)-1:]),
		"SetHardState":               s.SetHardState(wire.HardState{Term: 2, Vote: "n2"}),
		"DeleteBefore":               s.DeleteBefore(2),
	} {
		if !errors.Is(err, syscall.EFBIG) {
			t.Fatalf("%s after a failed write: got %v, want the failure (EFBIG)", what, err)
		}
	}
	wantLog(t, s, acked)
	closeT(t, s)

	// Reopened, the store holds every acknowledged entry; it may hold
	// whole frames of the failed batch too, as after a crash.
	s = openClean(t, dir, opts)
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the write failed with %q; %d entries acknowledged, %d after reopen", failure, ackedLast, last)
	if last < ackedLast || last > ackedLast+3 {
		t.Fatalf("LastIndex after reopen: %d, acknowledged %d and the failed batch 3 more", last, ackedLast)
	}
	got, err := s.Entries(1, ackedLast+1, 0)
	if err != nil || len(got) != len(acked) {
		t.Fatalf("Entries of the acknowledged log after reopen: %d entries, %v", len(got), err)
	}
	for i := range got {
		if !logstoretest.EntryEqual(got[i], acked[i]) {
			t.Fatalf("entry %d after reopen: %+v, want %+v", acked[i].Index, got[i], acked[i])
		}
	}
	if hs, ok, err := s.HardState(); err != nil || !ok || hs != (wire.HardState{Term: 1, Vote: "n1"}) {
		t.Fatalf("HardState after reopen: %+v, %v, %v", hs, ok, err)
	}
	more := bigEntries(last+1, last+4, 2, 1000)
	store(t, s, more)
	if got, err := s.Entries(last+1, last+4, 0); err != nil || len(got) != 3 {
		t.Fatalf("entries appended after reopen: %d, %v", len(got), err)
	}
}
