package snapshottest

import (
	"errors"
	"testing"

	"github.com/mandate-raft/mandate/snapshot"
)

// RunDurable checks what a durable store adds to the contract: snapshots
// survive a reopen of the same directory, and a snapshot whose stored data
// was damaged is detected. open is called more than once with the same
// dir; corrupt must flip at least one bit of snapshot id's stored data.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) snapshot.Store, corrupt func(t *testing.T, dir, id string)) {
	t.Run("SnapshotsSurviveReopen", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		a := Write(t, s, Meta(10, 1), Data(10, 70_000))
		b := Write(t, s, Meta(20, 2), Data(20, 0))
		s = open(t, dir)
		wantIDs(t, s, b, a)
		wantSnapshot(t, s, a, Meta(10, 1), Data(10, 70_000))
		wantSnapshot(t, s, b, Meta(20, 2), nil)
		// A snapshot taken after the reopen at the same index is newer.
		c := Write(t, s, Meta(20, 2), Data(21, 10))
		wantIDs(t, s, c, b, a)
	})

	t.Run("CorruptSnapshotIsNotListedAndDoesNotOpen", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		older := Write(t, s, Meta(10, 1), Data(10, 50_000))
		newer := Write(t, s, Meta(20, 1), Data(20, 50_000))
		corrupt(t, dir, newer)
		s = open(t, dir)
		// The newest valid snapshot takes the corrupt one's place.
		wantIDs(t, s, older)
		_, _, err := ReadAll(s, newer)
		wantErr(t, err, snapshot.ErrCorrupt, "reading a corrupted snapshot")
		wantSnapshot(t, s, older, Meta(10, 1), Data(10, 50_000))
	})

	t.Run("DamageAfterOpenIsCaughtByTheReader", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		id := Write(t, s, Meta(30, 1), Data(30, 200_000))
		if _, _, err := ReadAll(s, id); err != nil {
			t.Fatalf("reading the intact snapshot: %v", err)
		}
		corrupt(t, dir, id)
		_, _, err := ReadAll(s, id)
		if !errors.Is(err, snapshot.ErrCorrupt) {
			t.Fatalf("reading a snapshot damaged while the store was open: got %v, want ErrCorrupt", err)
		}
	})
}
