package ondisk

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mandate-raft/mandate/logstore/logstoretest"
)

// Each engine keeps what it was given across a reopen, and Detect names
// the engine from the files alone.
func TestEachEngineReopensItsOwnLog(t *testing.T) {
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "raft")
			if got, err := Detect(dir); err != nil || got != "" {
				t.Fatalf("Detect before the first Open: %q, %v; want nothing", got, err)
			}
			s, err := Open(dir, engine, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreEntries(logstoretest.Make(1, 6, 1)); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := Detect(dir); err != nil || got != engine {
				t.Fatalf("Detect after writing: %q, %v; want %q", got, err, engine)
			}
			s, err = Open(dir, engine, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if last, _ := s.LastIndex(); last != 5 {
				t.Fatalf("last index after reopen: %d, want 5", last)
			}
		})
	}
}

// A node configured with the other engine must not start on an empty log
// beside its real one: Open refuses, naming both engines and the fix.
func TestOpenRefusesTheOtherEnginesDirectory(t *testing.T) {
	for _, written := range Engines {
		t.Run(written, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, written, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreEntries(logstoretest.Make(1, 3, 1)); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			other := WAL
			if written == WAL {
				other = Bolt
			}
			_, err = Open(dir, other, Options{})
			if !errors.Is(err, ErrWrongEngine) {
				t.Fatalf("Open as %s of a %s directory: %v, want ErrWrongEngine", other, written, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "set raft.store to "+written) {
				t.Fatalf("the error does not say how to fix it: %v", err)
			}
		})
	}
}

func TestSecondOpenIsErrLockedForEveryEngine(t *testing.T) {
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, engine, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := Open(dir, engine, Options{LockTimeout: 20_000_000}); !errors.Is(err, ErrLocked) {
				t.Fatalf("second Open: %v, want ErrLocked", err)
			}
		})
	}
}

func TestUnknownEngineIsAnError(t *testing.T) {
	if _, err := Open(t.TempDir(), "rocks", Options{}); err == nil || !strings.Contains(err.Error(), "rocks") {
		t.Fatalf("Open with engine rocks: %v, want an error naming it", err)
	}
}
