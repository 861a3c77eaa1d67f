package file

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"sort"
	"sync"
	"testing"

	"github.com/mandate-raft/mandate/snapshot/snapshottest"
)

// strictFS is an in-memory FS that remembers what is durable: a file's
// contents as of its last Sync, and the directory's names as of its last
// SyncDir. crashed() returns the FS a machine would find after losing
// power; after the armed number of operations every operation fails, as
// if the process had died there.
type strictFS struct {
	mu      sync.Mutex
	names   map[string]*node // the directory as processes see it
	durable map[string]*node // the directory as of the last SyncDir
	ops     int
	crashAt int // 0: never
}

type node struct {
	mu     sync.Mutex
	data   []byte
	synced []byte
}

var errPowerCut = errors.New("power cut")

func newStrictFS() *strictFS {
	return &strictFS{names: map[string]*node{}, durable: map[string]*node{}}
}

// step counts one operation and fails it if the crash point is reached.
func (f *strictFS) step() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops++
	if f.crashAt > 0 && f.ops >= f.crashAt {
		return errPowerCut
	}
	return nil
}

func (f *strictFS) crashed() *strictFS {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := newStrictFS()
	for name, n := range f.durable {
		n.mu.Lock()
		c := &node{data: bytes.Clone(n.synced), synced: bytes.Clone(n.synced)}
		n.mu.Unlock()
		out.names[name], out.durable[name] = c, c
	}
	return out
}

func (f *strictFS) MkdirAll(string) error { return f.step() }

func (f *strictFS) Create(name string) (File, error) {
	if err := f.step(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.names[name]; ok {
		return nil, fs.ErrExist
	}
	n := &node{}
	f.names[name] = n
	return &strictFile{fs: f, n: n}, nil
}

func (f *strictFS) Open(name string) (File, error) {
	if err := f.step(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.names[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return &strictFile{fs: f, n: n}, nil
}

func (f *strictFS) Rename(oldName, newName string) error {
	if err := f.step(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.names[oldName]
	if !ok {
		return fs.ErrNotExist
	}
	delete(f.names, oldName)
	f.names[newName] = n
	return nil
}

func (f *strictFS) Remove(name string) error {
	if err := f.step(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.names[name]; !ok {
		return fs.ErrNotExist
	}
	delete(f.names, name)
	return nil
}

func (f *strictFS) ReadDir(dir string) ([]string, error) {
	if err := f.step(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.names {
		if path.Dir(name) == path.Clean(dir) {
			out = append(out, path.Base(name))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *strictFS) SyncDir(string) error {
	if err := f.step(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.durable = map[string]*node{}
	for name, n := range f.names {
		f.durable[name] = n
	}
	return nil
}

type strictFile struct {
	fs *strictFS
	n  *node
}

func (s *strictFile) Write(p []byte) (int, error) {
	if err := s.fs.step(); err != nil {
		return 0, err
	}
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	s.n.data = append(s.n.data, p...)
	return len(p), nil
}

func (s *strictFile) ReadAt(p []byte, off int64) (int, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	return bytes.NewReader(s.n.data).ReadAt(p, off)
}

func (s *strictFile) Sync() error {
	if err := s.fs.step(); err != nil {
		return err
	}
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	s.n.synced = bytes.Clone(s.n.data)
	return nil
}

func (s *strictFile) Size() (int64, error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	return int64(len(s.n.data)), nil
}

func (s *strictFile) Close() error { return nil }

// TestPowerCutAtEveryStepNeverHidesThePreviousSnapshot cuts the power at
// each file system operation of a snapshot write (and of the pruning that
// follows it), keeping only what was fsynced. After every cut the store
// opens, lists only snapshots that read back intact, and still has the
// previous one or, once the new one was durable, the new one first.
func TestPowerCutAtEveryStepNeverHidesThePreviousSnapshot(t *testing.T) {
	const dir = "/snaps"
	prevData, newData := snapshottest.Data(10, 3000), snapshottest.Data(20, 2<<20+1000) // several buffered writes
	for crashAt := 1; ; crashAt++ {
		f := newStrictFS()
		s := openT(t, dir, Options{FS: f, Retain: 1})
		prev := snapshottest.Write(t, s, snapshottest.Meta(10, 1), prevData)
		f.mu.Lock()
		f.ops, f.crashAt = 0, crashAt
		f.mu.Unlock()

		sink, err := s.Create(snapshottest.Meta(20, 1))
		if err == nil {
			_, err = sink.Write(newData)
			if cerr := sink.Close(); err == nil {
				err = cerr
			}
		}
		completed := err == nil
		f.mu.Lock()
		cutReached := f.ops >= crashAt
		f.mu.Unlock()

		after := openT(t, dir, Options{FS: f.crashed(), Retain: 1})
		metas, lerr := after.List()
		if lerr != nil {
			t.Fatalf("cut at step %d: List: %v", crashAt, lerr)
		}
		if len(metas) == 0 {
			t.Fatalf("cut at step %d: no snapshot left; the previous one %s was hidden", crashAt, prev)
		}
		for _, m := range metas {
			want := map[uint64][]byte{10: prevData, 20: newData}[m.Index]
			if _, data, err := snapshottest.ReadAll(after, m.ID); err != nil || !bytes.Equal(data, want) {
				t.Fatalf("cut at step %d: listed snapshot %s does not read back intact: %v", crashAt, m.ID, err)
			}
		}
		if metas[0].ID != prev && metas[0].ID != sink.ID() {
			t.Fatalf("cut at step %d: newest listed is %s, want %s or %s", crashAt, metas[0].ID, prev, sink.ID())
		}
		names, _ := after.fs.ReadDir(dir)
		for _, n := range names {
			if path.Ext(n) == tmpExt {
				t.Fatalf("cut at step %d: leftover %s after reopen", crashAt, n)
			}
		}
		// Once Close returned nil the new snapshot survives any cut,
		// including one during the pruning of the old one.
		if completed && metas[0].ID != sink.ID() {
			t.Fatalf("cut at step %d after Close returned: newest is %s, want %s", crashAt, metas[0].ID, sink.ID())
		}
		if !cutReached {
			if !completed {
				t.Fatalf("no power cut, yet the write failed: %v", err)
			}
			t.Logf("checked power cuts at each of %d steps", crashAt-1)
			return
		}
	}
}
