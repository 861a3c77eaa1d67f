package logstoretest

import (
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// RunDurable checks that a durable store keeps every entry, its bounds and
// the HardState across Close and a reopen of the same directory. open is
// called more than once with the same dir, never while another store on it
// is open; the suite closes every store it opens.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) logstore.Store) {
	reopen := func(t *testing.T, dir string, s logstore.Store) logstore.Store {
		t.Helper()
		must(t, s.Close(), "Close before reopen")
		s = open(t, dir)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	first := func(t *testing.T) (string, logstore.Store) {
		dir := t.TempDir()
		s := open(t, dir)
		t.Cleanup(func() { _ = s.Close() })
		return dir, s
	}

	t.Run("EmptyStoreReopensEmpty", func(t *testing.T) {
		dir, s := first(t)
		s = reopen(t, dir, s)
		wantBounds(t, s, 0, 0)
		if _, ok, err := s.HardState(); err != nil || ok {
			t.Fatalf("HardState after reopening an empty store: ok %v, err %v; want none", ok, err)
		}
	})

	t.Run("EntriesAndHardStateSurviveReopen", func(t *testing.T) {
		dir, s := first(t)
		want := Make(1, 201, 1)
		for i := 0; i < len(want); i += 50 {
			store(t, s, want[i:i+50])
		}
		hs := wire.HardState{Term: 3, Vote: "n2", Commit: 150}
		must(t, s.SetHardState(hs), "SetHardState")
		s = reopen(t, dir, s)
		wantBounds(t, s, 1, 200)
		wantEntries(t, s, 1, 201, want)
		got, ok, err := s.HardState()
		must(t, err, "HardState after reopen")
		if !ok || got != hs {
			t.Fatalf("HardState after reopen: got %+v, %v; want %+v", got, ok, hs)
		}
		// The reopened log continues where it ended.
		store(t, s, Make(201, 211, 2))
		wantErr(t, s.StoreEntries(Make(213, 214, 2)), logstore.ErrNonContiguous, "gap after reopen")
		s = reopen(t, dir, s)
		wantBounds(t, s, 1, 210)
		wantEntries(t, s, 195, 211, append(Make(195, 201, 1), Make(201, 211, 2)...))
	})

	t.Run("ReplacedSuffixAndCompactionSurviveReopen", func(t *testing.T) {
		dir, s := first(t)
		store(t, s, Make(1, 51, 1))
		store(t, s, Make(30, 41, 2))
		must(t, s.DeleteBefore(10), "DeleteBefore(10)")
		s = reopen(t, dir, s)
		wantBounds(t, s, 10, 40)
		wantEntries(t, s, 10, 41, append(Make(10, 30, 1), Make(30, 41, 2)...))
		_, err := s.Entries(41, 42, 0)
		wantErr(t, err, logstore.ErrUnavailable, "a replaced-away entry after reopen")
		_, err = s.Entries(9, 10, 0)
		wantErr(t, err, logstore.ErrCompacted, "a compacted entry after reopen")
	})

	t.Run("EmptiedLogSurvivesReopen", func(t *testing.T) {
		dir, s := first(t)
		store(t, s, Make(1, 11, 1))
		must(t, s.DeleteBefore(11), "DeleteBefore(11)")
		must(t, s.SetHardState(wire.HardState{Term: 4, Commit: 10}), "SetHardState")
		s = reopen(t, dir, s)
		wantBounds(t, s, 0, 0)
		store(t, s, Make(11, 13, 4))
		s = reopen(t, dir, s)
		wantBounds(t, s, 11, 12)
		got, ok, err := s.HardState()
		must(t, err, "HardState")
		if !ok || got != (wire.HardState{Term: 4, Commit: 10}) {
			t.Fatalf("HardState after reopen: got %+v, %v", got, ok)
		}
	})

	t.Run("ZeroHardStateIsStillSavedAcrossReopen", func(t *testing.T) {
		dir, s := first(t)
		must(t, s.SetHardState(wire.HardState{}), "SetHardState(zero)")
		s = reopen(t, dir, s)
		if _, ok, err := s.HardState(); err != nil || !ok {
			t.Fatalf("HardState after saving a zero one: ok %v, err %v; want saved", ok, err)
		}
	})
}
