package boltdb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// cacheVariants run every suite with the default read cache, without it
// (every read goes to bolt) and with a tiny one (reads mix both).
var cacheVariants = []struct {
	name string
	opts Options
}{
	{"DefaultCache", Options{}},
	// These two exercise the read paths; fsync adds nothing there but time.
	{"NoCache", Options{CacheEntries: -1, UnsafeNoSync: true}},
	{"TinyCache", Options{CacheEntries: 3, CacheBytes: 200, UnsafeNoSync: true}},
}

func TestConformance(t *testing.T) {
	for _, v := range cacheVariants {
		t.Run(v.name, func(t *testing.T) {
			logstoretest.Run(t, func(t *testing.T) logstore.Store {
				s, err := Open(t.TempDir(), v.opts)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestDurable(t *testing.T) {
	for _, v := range cacheVariants {
		t.Run(v.name, func(t *testing.T) {
			logstoretest.RunDurable(t, func(t *testing.T, dir string) logstore.Store {
				s, err := Open(dir, v.opts)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// flipInFile flips one bit in every copy of needle in the file (bolt writes
// copy-on-write, so stale copies may sit in free pages) and returns how
// many it found.
func flipInFile(t *testing.T, path string, needle []byte) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; ; {
		j := bytes.Index(b[i:], needle)
		if j < 0 {
			break
		}
		b[i+j+len(needle)/2] ^= 0x04
		i += j + len(needle)
		n++
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFlippedBitIsErrCorruptNamingTheIndex(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if err := s.StoreEntries(logstoretest.Make(1, 11, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := flipInFile(t, filepath.Join(dir, FileName), logstoretest.Payload(7, 1)); n == 0 {
		t.Fatal("entry 7's payload not found in the file")
	}
	s = openT(t, dir)
	defer s.Close()
	_, err := s.Entries(1, 11, 0)
	if !errors.Is(err, logstore.ErrCorrupt) || !strings.Contains(err.Error(), "entry 7") {
		t.Fatalf("Entries over a flipped bit: got %v, want ErrCorrupt naming entry 7", err)
	}
	// Entries before the damage are still readable.
	got, err := s.Entries(1, 7, 0)
	if err != nil || len(got) != 6 {
		t.Fatalf("Entries(1, 7) before the damage: %d entries, %v", len(got), err)
	}
}

func TestCorruptHardStateIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if err := s.SetHardState(wire.HardState{Term: 9, Vote: "voted-for-this-node", Commit: 3}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n := flipInFile(t, filepath.Join(dir, FileName), []byte("voted-for-this-node")); n == 0 {
		t.Fatal("hard state not found in the file")
	}
	s = openT(t, dir)
	defer s.Close()
	if _, _, err := s.HardState(); !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("HardState after a flipped bit: got %v, want ErrCorrupt", err)
	}
}

func TestNonBoltFileIsErrCorruptNamingThePath(t *testing.T) {
	for name, content := range map[string][]byte{
		"short garbage": []byte("not a database"),
		"long garbage":  bytes.Repeat([]byte("garbage!"), 4096),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, Options{})
			if !errors.Is(err, logstore.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open of %s: got %v, want ErrCorrupt naming %s", name, err, path)
			}
		})
	}
}

func TestTruncatedFileIsErrCorruptNamingThePath(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	for i := uint64(1); i < 2001; i += 100 {
		if err := s.StoreEntries(logstoretest.Make(i, i+100, 1)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	path := filepath.Join(dir, FileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, logstore.ErrCorrupt) || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a truncated file: got %v, want ErrCorrupt naming %s as truncated", err, path)
	}
}

func TestUnusableDataDirectoryIsReported(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(file, "data"), Options{})
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("Open under a regular file: got %v, want an error naming %s", err, file)
	}
	if os.Geteuid() == 0 {
		return // root writes into read-only directories anyway
	}
	ro := filepath.Join(parent, "read-only")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ro, Options{})
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), ro) {
		t.Fatalf("Open in a read-only directory: got %v, want a permission error naming %s", err, ro)
	}
}

func TestSecondOpenOfTheSameDirectoryIsErrLocked(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	_, err := Open(dir, Options{LockTimeout: 50e6})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
}

// A suffix replacement whose clean-up was interrupted leaves tombstones
// after the new last entry; reopening drops them and the log is the new one.
func TestTombstonesLeftByAnInterruptedCleanupAreDroppedOnOpen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if err := s.StoreEntries(logstoretest.Make(1, 11, 1)); err != nil {
		t.Fatal(err)
	}
	// Write what StoreEntries(Make(5, 7, 2)) writes, without the clean-up.
	logs, err := s.plan(logstoretest.Make(5, 7, 2), 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, dir)
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 1 || last != 6 {
		t.Fatalf("bounds after reopen: [%d, %d], want [1, 6]", first, last)
	}
	got, err := s.Entries(1, 7, 0)
	if err != nil || len(got) != 6 || got[5].Term != 2 || got[3].Term != 1 {
		t.Fatalf("Entries after reopen: %+v, %v", got, err)
	}
	// The dropped tail is really gone: a later append past it leaves no hole.
	if err := s.StoreEntries(logstoretest.Make(7, 12, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entries(1, 12, 0); err != nil {
		t.Fatalf("Entries after appending over the dropped tail: %v", err)
	}
}

func TestAHoleInTheLogIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	// One entry per call: each is a record of its own, and deleting one
	// leaves a hole.
	for i := uint64(1); i < 11; i++ {
		if err := s.StoreEntries(logstoretest.Make(i, i+1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.DeleteRange(5, 5); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, dir)
	defer s.Close()
	_, err := s.Entries(1, 11, 0)
	if !errors.Is(err, logstore.ErrCorrupt) || !strings.Contains(err.Error(), "entry 5") {
		t.Fatalf("Entries over a missing entry: got %v, want ErrCorrupt naming entry 5", err)
	}
}

// A missing run record is a hole too, reported at its first entry; the
// runs before it stay readable.
func TestAMissingRunIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	for i := uint64(1); i < 31; i += 10 {
		if err := s.StoreEntries(logstoretest.Make(i, i+10, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.DeleteRange(11, 11); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, dir)
	defer s.Close()
	_, err := s.Entries(1, 31, 0)
	if !errors.Is(err, logstore.ErrCorrupt) || !strings.Contains(err.Error(), "entry 11") {
		t.Fatalf("Entries over a missing run: got %v, want ErrCorrupt naming entry 11", err)
	}
	for _, idx := range []uint64{11, 15, 20} {
		if _, err := s.Entries(idx, idx+1, 0); !errors.Is(err, logstore.ErrCorrupt) {
			t.Fatalf("Entries(%d) inside the missing run: got %v, want ErrCorrupt", idx, err)
		}
	}
	if got, err := s.Entries(1, 11, 0); err != nil || len(got) != 10 {
		t.Fatalf("Entries(1, 11) before the hole: %d entries, %v", len(got), err)
	}
	if got, err := s.Entries(21, 31, 0); err != nil || len(got) != 10 {
		t.Fatalf("Entries(21, 31) after the hole: %d entries, %v", len(got), err)
	}
}
