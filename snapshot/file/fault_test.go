package file

import (
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/snapshot/snapshottest"
)

// faultFS is the OS file system with one step made to fail on demand.
type faultFS struct {
	FS
	mu       sync.Mutex
	failOn   string // "write", "sync", "syncdir", "rename"
	written  int64
	writeCap int64 // with failOn "write": bytes accepted before ENOSPC
}

var errInjected = errors.New("injected fault")

func (f *faultFS) fails(step string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failOn == step
}

func (f *faultFS) Create(name string) (File, error) {
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFS) Rename(o, n string) error {
	if f.fails("rename") {
		return errInjected
	}
	return f.FS.Rename(o, n)
}

func (f *faultFS) SyncDir(dir string) error {
	if f.fails("syncdir") {
		return errInjected
	}
	return f.FS.SyncDir(dir)
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	full := f.fs.failOn == "write" && f.fs.written+int64(len(p)) > f.fs.writeCap
	if !full {
		f.fs.written += int64(len(p))
	}
	f.fs.mu.Unlock()
	if full {
		return 0, &os.PathError{Op: "write", Path: "snapshot", Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if f.fs.fails("sync") {
		return errInjected
	}
	return f.File.Sync()
}

func TestAFailedStepLeavesNothingAndKeepsThePreviousSnapshot(t *testing.T) {
	for _, step := range []string{"write", "sync", "syncdir", "rename"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			ffs := &faultFS{FS: OS}
			s := openT(t, dir, Options{FS: ffs})
			prev := snapshottest.Write(t, s, snapshottest.Meta(10, 1), snapshottest.Data(10, 10_000))

			ffs.mu.Lock()
			ffs.failOn, ffs.written, ffs.writeCap = step, 0, 3<<20
			ffs.mu.Unlock()
			sink, err := s.Create(snapshottest.Meta(20, 1))
			if err != nil {
				t.Fatal(err)
			}
			data := snapshottest.Data(20, 4<<20) // more than writeCap
			_, werr := sink.Write(data)
			cerr := sink.Close()
			if cerr == nil {
				t.Fatalf("Close with a failing %s: got nil error", step)
			}
			if step == "write" && (!errors.Is(werr, syscall.ENOSPC) && !errors.Is(cerr, syscall.ENOSPC)) {
				t.Fatalf("a full disk: Write said %v, Close said %v; want ENOSPC", werr, cerr)
			}
			if step != "write" && !errors.Is(cerr, errInjected) {
				t.Fatalf("Close with a failing %s: got %v, want the injected fault", step, cerr)
			}
			ffs.mu.Lock()
			ffs.failOn = ""
			ffs.mu.Unlock()

			metas, err := s.List()
			if err != nil || len(metas) != 1 || metas[0].ID != prev {
				t.Fatalf("List after the failure: %+v, %v; want only %s", metas, err, prev)
			}
			names, _ := os.ReadDir(dir)
			for _, n := range names {
				if strings.HasSuffix(n.Name(), tmpExt) || n.Name() != prev+snapExt {
					t.Fatalf("file %s left behind after the failure", n.Name())
				}
			}
			if _, _, err := s.Open(sink.ID()); !errors.Is(err, snapshot.ErrNotFound) {
				t.Fatalf("Open of the failed snapshot: got %v, want ErrNotFound", err)
			}
			// The store works on once the fault is gone.
			next := snapshottest.Write(t, s, snapshottest.Meta(30, 1), snapshottest.Data(30, 100))
			if metas, _ := s.List(); len(metas) != 2 || metas[0].ID != next {
				t.Fatalf("List after recovering: %+v", metas)
			}
		})
	}
}
