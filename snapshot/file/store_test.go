package file

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/snapshot/snapshottest"
)

func openT(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// flipData flips one bit in the middle of snapshot id's data.
func flipData(t *testing.T, dir, id string) {
	t.Helper()
	path := filepath.Join(dir, id+snapExt)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= 2*footerLen {
		t.Fatalf("snapshot %s is too small to damage", id)
	}
	b[len(b)/3] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	snapshottest.Run(t, func(t *testing.T) snapshot.Store { return openT(t, t.TempDir(), Options{}) })
}

func TestDurable(t *testing.T) {
	snapshottest.RunDurable(t,
		func(t *testing.T, dir string) snapshot.Store { return openT(t, dir, Options{}) },
		flipData)
}

// logBuffer is a logger whose output a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: l, Level: hclog.Warn})
}

func TestCorruptNewestIsSkippedInFavourOfTheNewestValidAndLogged(t *testing.T) {
	for name, damage := range map[string]func(path string) error{
		"flipped bit": func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b[10] ^= 0x80
			return os.WriteFile(path, b, 0o600)
		},
		"truncated": func(path string) error { return os.Truncate(path, 1000) },
		"emptied":   func(path string) error { return os.Truncate(path, 0) },
		"extended": func(path string) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte("trailing junk"))
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, Options{})
			older := snapshottest.Write(t, s, snapshottest.Meta(10, 1), snapshottest.Data(10, 5000))
			newer := snapshottest.Write(t, s, snapshottest.Meta(20, 1), snapshottest.Data(20, 5000))
			if err := damage(filepath.Join(dir, newer+snapExt)); err != nil {
				t.Fatal(err)
			}
			var logs logBuffer
			s = openT(t, dir, Options{Logger: logs.logger()})
			metas, err := s.List()
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(metas) != 1 || metas[0].ID != older {
				t.Fatalf("List with the newest damaged: got %+v, want only %s", metas, older)
			}
			if !strings.Contains(logs.String(), newer) {
				t.Fatalf("the damaged snapshot %s was not logged; log:\n%s", newer, logs.String())
			}
			if _, err := s.List(); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(logs.String(), "skipping invalid snapshot"); n != 1 {
				t.Fatalf("the damaged snapshot was logged %d times after two Lists, want once; log:\n%s", n, logs.String())
			}
			_, _, err = s.Open(newer)
			if !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), newer) {
				t.Fatalf("Open of the damaged snapshot: got %v, want ErrCorrupt naming it", err)
			}
		})
	}
}

func TestLeftoversOfInterruptedWritesAreRemovedOnOpen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	keep := snapshottest.Write(t, s, snapshottest.Meta(5, 1), snapshottest.Data(5, 100))
	sink, err := s.Create(snapshottest.Meta(6, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(snapshottest.Data(6, 100_000)); err != nil {
		t.Fatal(err)
	}
	// The process dies here: the sink is never closed.
	s = openT(t, dir, Options{})
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name() != keep+snapExt {
		t.Fatalf("directory after reopen: %v, want only %s%s", names, keep, snapExt)
	}
	metas, _ := s.List()
	if len(metas) != 1 || metas[0].ID != keep {
		t.Fatalf("List after reopen: %+v", metas)
	}
}

func TestRetainKeepsTheNewestN(t *testing.T) {
	for _, retain := range []int{1, 2, 5} {
		dir := t.TempDir()
		s := openT(t, dir, Options{Retain: retain})
		for i := uint64(1); i <= 8; i++ {
			snapshottest.Write(t, s, snapshottest.Meta(i, 1), snapshottest.Data(i, 10))
		}
		metas, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(metas) != retain || metas[0].Index != 8 || metas[retain-1].Index != uint64(9-retain) {
			t.Fatalf("Retain %d after 8 snapshots: got %+v", retain, metas)
		}
		names, _ := os.ReadDir(dir)
		if len(names) != retain {
			t.Fatalf("Retain %d: %d files left in the directory", retain, len(names))
		}
	}
	s := openT(t, t.TempDir(), Options{})
	for i := uint64(1); i <= 5; i++ {
		snapshottest.Write(t, s, snapshottest.Meta(i, 1), nil)
	}
	if metas, _ := s.List(); len(metas) != DefaultRetain {
		t.Fatalf("default retention: %d snapshots kept, want %d", len(metas), DefaultRetain)
	}
}

func TestIDsThatAreNotOursAreNotFound(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	id := snapshottest.Write(t, s, snapshottest.Meta(5, 1), nil)
	if err := os.WriteFile(filepath.Join(dir, "x.snap"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../" + id, id + "/..", "x", "", "1-5-01", "1-5-1.snap", "-1-5-1"} {
		if _, _, err := s.Open(bad); !errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("Open(%q): got %v, want ErrNotFound", bad, err)
		}
	}
}
