package file

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/snapshot/internal/verify"
)

// sink streams a snapshot's data into its temporary file.
type sink struct {
	store *Store
	tmp   string

	mu   sync.Mutex
	f    File
	w    *bufio.Writer
	tr   trailer
	crc  uint32
	size int64
	err  error // first write error; Close reports it
	done bool

	// wantSize and wantSum are what the caller announced (zero: nothing).
	wantSize int64
	wantSum  uint32
}

func newSink(s *Store, f File, tmp string, tr trailer) *sink {
	return &sink{store: s, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), tr: tr}
}

// ID returns the snapshot's ID.
func (k *sink) ID() string { return k.tr.Meta.ID }

// Write appends p to the snapshot's data.
func (k *sink) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return 0, snapshot.ErrClosed
	}
	if k.err != nil {
		return 0, k.err
	}
	n, err := k.w.Write(p)
	k.crc = crc32.Update(k.crc, verify.Castagnoli, p[:n])
	k.size += int64(n)
	if err != nil {
		k.err = fmt.Errorf("snapshot/file: write %s: %w", k.tmp, err)
		return n, k.err
	}
	return n, nil
}

// Close completes the snapshot: data and metadata are written and fsynced,
// the directory is fsynced, the file is renamed into place, and the
// directory is fsynced again. Only then is the snapshot visible. On any
// failure the temporary file is removed and nothing becomes visible.
func (k *sink) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return snapshot.ErrClosed
	}
	k.done = true
	if err := k.commit(); err != nil {
		_ = k.f.Close()
		_ = k.store.fs.Remove(k.tmp)
		return err
	}
	if err := k.store.prune(); err != nil {
		// The new snapshot is durable and visible; failing to remove old
		// ones only costs disk space.
		k.store.logger.Warn("failed to remove old snapshots", "error", err)
	}
	return nil
}

func (k *sink) commit() error {
	if k.err != nil {
		return k.err
	}
	if (k.wantSize != 0 || k.wantSum != 0) && (k.size != k.wantSize || k.crc != k.wantSum) {
		return fmt.Errorf("%w: snapshot %s: received %d bytes with checksum %08x, announced %d bytes with checksum %08x",
			snapshot.ErrCorrupt, k.tr.Meta.ID, k.size, k.crc, k.wantSize, k.wantSum)
	}
	k.tr.Meta.Size, k.tr.Meta.Checksum = k.size, k.crc
	trailerBytes, err := encodeTrailer(k.tr)
	if err != nil {
		return err
	}
	if _, err := k.w.Write(trailerBytes); err != nil {
		return fmt.Errorf("snapshot/file: write %s: %w", k.tmp, err)
	}
	if err := k.w.Flush(); err != nil {
		return fmt.Errorf("snapshot/file: write %s: %w", k.tmp, err)
	}
	if err := k.f.Sync(); err != nil {
		return fmt.Errorf("snapshot/file: fsync %s: %w", k.tmp, err)
	}
	if err := k.f.Close(); err != nil {
		return fmt.Errorf("snapshot/file: close %s: %w", k.tmp, err)
	}
	dir := k.store.dir
	if err := k.store.fs.SyncDir(dir); err != nil {
		return fmt.Errorf("snapshot/file: fsync directory %s: %w", dir, err)
	}
	final := k.store.path(k.tr.Meta.ID)
	// Record the verdict before the file is visible: its data is exactly
	// what was hashed while it streamed in.
	k.store.mu.Lock()
	k.store.checked[k.tr.Meta.ID] = nil
	k.store.mu.Unlock()
	if err := k.store.fs.Rename(k.tmp, final); err != nil {
		k.store.mu.Lock()
		delete(k.store.checked, k.tr.Meta.ID)
		k.store.mu.Unlock()
		return fmt.Errorf("snapshot/file: rename %s into place: %w", k.tmp, err)
	}
	if err := k.store.fs.SyncDir(dir); err != nil {
		// The rename happened but may not survive a crash: undo it so the
		// caller's error means "not stored".
		_ = k.store.fs.Remove(final)
		k.store.mu.Lock()
		delete(k.store.checked, k.tr.Meta.ID)
		k.store.mu.Unlock()
		return fmt.Errorf("snapshot/file: fsync directory %s after rename: %w", dir, err)
	}
	return nil
}

// Cancel abandons the snapshot and removes its temporary file.
func (k *sink) Cancel() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return snapshot.ErrClosed
	}
	k.done = true
	_ = k.f.Close()
	if err := k.store.fs.Remove(k.tmp); err != nil {
		return fmt.Errorf("snapshot/file: remove cancelled snapshot %s: %w", k.tmp, err)
	}
	return nil
}
