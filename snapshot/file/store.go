// Package file is the durable snapshot.Store: one file per snapshot in a
// directory, written under a temporary name, fsynced, renamed into place,
// with the directory fsynced around the rename. Each file carries its
// metadata and a CRC-32C of its data, checked before the snapshot is
// listed or opened and again as it is read.
//
// A directory belongs to one Store (one process) at a time.
package file

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/snapshot/internal/verify"
	"github.com/mandate-raft/mandate/wire"
)

// DefaultRetain is how many snapshots a Store keeps when Options.Retain is 0.
const DefaultRetain = 3

const (
	snapExt = ".snap"
	tmpExt  = ".tmp"
)

// Options tune a Store. The zero value is the default.
type Options struct {
	// Retain is how many valid snapshots to keep, newest first; older ones
	// are removed when a new one is completed. Default: DefaultRetain.
	Retain int
	// Logger receives a warning for every snapshot skipped as invalid and
	// every leftover removed, used as given (name it for the component).
	// Default: no logging.
	Logger hclog.Logger
	// FS is the file system to use. Default: OS.
	FS FS
}

// Store keeps snapshots as files in one directory. It is safe for
// concurrent use.
type Store struct {
	dir    string
	retain int
	logger hclog.Logger
	fs     FS

	mu  sync.Mutex
	seq uint64
	// checked caches the verdict on each complete snapshot file (nil: its
	// data matched its checksum): files are immutable once renamed into
	// place, so each is read in full once per process, not on every List.
	checked map[string]error
	// warned records the snapshots already logged as invalid.
	warned map[string]bool
}

var _ snapshot.Store = (*Store)(nil)

// Open opens (creating if needed) the snapshot directory dir and removes
// leftovers of interrupted writes.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Retain <= 0 {
		opts.Retain = DefaultRetain
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.FS == nil {
		opts.FS = OS
	}
	s := &Store{dir: dir, retain: opts.Retain, logger: opts.Logger, fs: opts.FS,
		checked: map[string]error{}, warned: map[string]bool{}}
	if err := s.fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("snapshot/file: create directory: %w", err)
	}
	names, err := s.fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot/file: read directory: %w", err)
	}
	removed := false
	for _, name := range names {
		if strings.HasSuffix(name, tmpExt) {
			s.logger.Warn("removing an interrupted snapshot write", "path", filepath.Join(dir, name))
			if err := s.fs.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("snapshot/file: remove leftover: %w", err)
			}
			removed = true
		}
	}
	if removed {
		if err := s.fs.SyncDir(dir); err != nil {
			return nil, fmt.Errorf("snapshot/file: sync directory %s: %w", dir, err)
		}
	}
	// Sequence numbers go on from the highest found, valid or not, so a new
	// snapshot always sorts after every earlier one of the same index.
	for _, name := range names {
		if id, ok := strings.CutSuffix(name, snapExt); ok {
			if _, _, seq, ok := parseID(id); ok && seq > s.seq {
				s.seq = seq
			}
		}
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func makeID(term, index, seq uint64) string { return fmt.Sprintf("%d-%d-%d", term, index, seq) }

// parseID splits an ID made by makeID; ok is false for anything else, which
// also keeps path separators and dots out of file names built from IDs.
func parseID(id string) (term, index, seq uint64, ok bool) {
	if n, err := fmt.Sscanf(id, "%d-%d-%d", &term, &index, &seq); err != nil || n != 3 {
		return 0, 0, 0, false
	}
	return term, index, seq, makeID(term, index, seq) == id
}

func (s *Store) path(id string) string { return filepath.Join(s.dir, id+snapExt) }

// Create starts a snapshot; it becomes visible when its Sink is closed.
func (s *Store) Create(meta wire.SnapshotMeta) (snapshot.Sink, error) {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	meta.ID = makeID(meta.Term, meta.Index, seq)
	meta.Config = meta.Config.Clone()
	wantSize, wantSum := meta.Size, meta.Checksum
	meta.Size, meta.Checksum = 0, 0
	tmp := s.path(meta.ID) + tmpExt
	f, err := s.fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("snapshot/file: create %s: %w", tmp, err)
	}
	k := newSink(s, f, tmp, trailer{Meta: meta, Seq: seq})
	k.wantSize, k.wantSum = wantSize, wantSum
	return k, nil
}

// entry is a complete snapshot file found in the directory.
type entry struct {
	tr trailer
}

// List returns the metadata of every valid snapshot, newest first. A
// snapshot whose metadata, size or checksum does not match is logged and
// left out.
func (s *Store) List() ([]wire.SnapshotMeta, error) {
	valid, _, err := s.scan()
	if err != nil {
		return nil, err
	}
	out := make([]wire.SnapshotMeta, len(valid))
	for i, e := range valid {
		out[i] = e.tr.Meta
	}
	return out, nil
}

// scan returns the valid snapshots, newest first, and the IDs of the
// snapshot files found corrupt.
func (s *Store) scan() (valid []entry, corrupt []string, err error) {
	names, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot/file: read directory: %w", err)
	}
	for _, name := range names {
		id, ok := strings.CutSuffix(name, snapExt)
		if !ok {
			continue
		}
		if _, _, _, ours := parseID(id); !ours {
			continue // not a file this store wrote
		}
		tr, err := s.check(id)
		switch {
		case errors.Is(err, snapshot.ErrNotFound):
			// Removed since ReadDir.
		case errors.Is(err, snapshot.ErrCorrupt):
			corrupt = append(corrupt, id) // check logged it
		case err != nil:
			// An I/O error, logged by check: maybe transient, so the
			// file is neither listed nor removed.
		default:
			valid = append(valid, entry{tr: tr})
		}
	}
	sort.Slice(valid, func(i, j int) bool {
		a, b := valid[i].tr, valid[j].tr
		if a.Meta.Index != b.Meta.Index {
			return a.Meta.Index > b.Meta.Index
		}
		return a.Seq > b.Seq
	})
	return valid, corrupt, nil
}

// check reads id's trailer and, once per process, verifies its data.
func (s *Store) check(id string) (trailer, error) {
	f, tr, err := s.openChecked(id)
	if err != nil {
		return tr, err
	}
	_ = f.Close()
	return tr, nil
}

// openChecked opens id's file, reads its trailer and makes sure its data
// was verified once. Every failure but ErrNotFound is logged.
func (s *Store) openChecked(id string) (File, trailer, error) {
	var tr trailer
	if _, _, _, ok := parseID(id); !ok {
		return nil, tr, fmt.Errorf("%w: %q", snapshot.ErrNotFound, id)
	}
	path := s.path(id)
	f, err := s.fs.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, tr, fmt.Errorf("%w: %q", snapshot.ErrNotFound, id)
	}
	if err != nil {
		return nil, tr, fmt.Errorf("snapshot/file: open %s: %w", path, err)
	}
	fail := func(err error) (File, trailer, error) {
		_ = f.Close()
		err = fmt.Errorf("snapshot/file: %s: %w", path, err)
		s.mu.Lock()
		first := !s.warned[id]
		s.warned[id] = true
		s.mu.Unlock()
		if first { // once per file, not on every List
			s.logger.Warn("skipping invalid snapshot", "snapshot-id", id, "path", path, "error", err)
		}
		return nil, tr, err
	}
	size, err := f.Size()
	if err != nil {
		return fail(err)
	}
	if tr, err = readTrailer(f, size); err != nil {
		return fail(err)
	}
	if tr.Meta.ID != id {
		return fail(fmt.Errorf("%w: file holds snapshot %q", snapshot.ErrCorrupt, tr.Meta.ID))
	}
	s.mu.Lock()
	verdict, known := s.checked[id]
	s.mu.Unlock()
	if !known {
		sum, err := verify.Checksum(f, tr.Meta.Size)
		if err == nil && sum != tr.Meta.Checksum {
			err = fmt.Errorf("%w: data checksum %08x, want %08x", snapshot.ErrCorrupt, sum, tr.Meta.Checksum)
		}
		if err != nil && !errors.Is(err, snapshot.ErrCorrupt) {
			return fail(err) // an I/O error: do not cache, it may pass later
		}
		verdict = err
		s.mu.Lock()
		s.checked[id] = verdict
		s.mu.Unlock()
	}
	if verdict != nil {
		return fail(verdict)
	}
	return f, tr, nil
}

// Open returns a snapshot's metadata and a reader of its data, which checks
// the data against its checksum again as it reaches the end.
func (s *Store) Open(id string) (wire.SnapshotMeta, snapshot.ReadSeekCloser, error) {
	f, tr, err := s.openChecked(id)
	if err != nil {
		return wire.SnapshotMeta{}, nil, err
	}
	return tr.Meta, verify.NewReader(f, tr.Meta.Size, tr.Meta.Checksum, s.path(id), f), nil
}

// prune removes the valid snapshots older than the newest Retain, and the
// corrupt ones (logged when found). It touches only files its own scan
// saw, so a snapshot completed meanwhile by another Sink is safe; files
// being written are temporary files, never seen; open readers keep reading
// a removed file.
func (s *Store) prune() error {
	valid, corrupt, err := s.scan()
	if err != nil {
		return err
	}
	var drop []string
	for _, e := range valid[min(s.retain, len(valid)):] {
		drop = append(drop, e.tr.Meta.ID)
	}
	drop = append(drop, corrupt...)
	var errs []error
	for _, id := range drop {
		if err := s.fs.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("snapshot/file: remove old snapshot: %w", err))
			continue
		}
		s.mu.Lock()
		delete(s.checked, id)
		delete(s.warned, id)
		s.mu.Unlock()
	}
	if len(drop) > 0 {
		if err := s.fs.SyncDir(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("snapshot/file: sync directory %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}
