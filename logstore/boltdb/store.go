// Package boltdb is the durable logstore.Store, kept in one bolt database
// file through github.com/hashicorp/raft-boltdb/v2.
//
// Entries are stored as raft.Log records keyed by index: a batch is cut
// into runs of up to 64 consecutive entries, each run one record under the
// index of its first entry (a lone entry is a record of its own), because
// raft-boltdb spends microseconds encoding every record it is handed,
// whatever its size. Each entry in a record carries a CRC-32C of its index,
// term and content, so that a flipped bit is reported as
// logstore.ErrCorrupt naming the entry instead of being handed to the FSM
// (run.go describes the format). Each StoreEntries call is one bolt
// transaction, hence one fsync, whatever its size; a batch that replaces a
// suffix overwrites every stale key with a tombstone in that same
// transaction, and a compaction that cuts a run writes the run's tail
// anew and kills the keys before it in one transaction, so a crash leaves
// the old log or the new one.
package boltdb

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/mandate-raft/mandate/internal/durable"
	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/logstore/internal/tailcache"
	"github.com/mandate-raft/mandate/wire"
)

// FileName is the name of the database file inside the store's directory.
const FileName = "log.db"

// hardStateKey is the stable-store key of the HardState, saved as one
// value so that one Set is one fsync.
var hardStateKey = []byte("mandate-hard-state")

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("logstore/boltdb: database is locked by another process")

// Options tune a Store. The zero value is the safe default.
type Options struct {
	// Logger receives warnings (a failed clean-up, tombstones dropped at
	// open), used as given (name it for the component). Default: none.
	Logger hclog.Logger
	// LockTimeout is how long Open waits for another process to release
	// the database file before it fails with ErrLocked. Default: 1s.
	LockTimeout time.Duration
	// CacheEntries is how many of the most recently written entries are
	// kept in memory to serve reads without bolt; CacheBytes bounds their
	// total Size. Defaults: 8192 entries, 16 MiB. A negative CacheEntries
	// disables the cache.
	CacheEntries int
	CacheBytes   uint64
	// UnsafeNoSync skips fsync: a crash may lose or tear any write. For
	// benchmarks and throwaway tests only.
	UnsafeNoSync bool
}

// Store is a logstore.Store in a bolt file. It is safe for concurrent use:
// readers do not wait for an append's fsync, only for writes that change
// entries they might be reading (a suffix replacement, a compaction).
type Store struct {
	db     *raftboltdb.BoltStore
	path   string
	logger hclog.Logger

	// writeMu serializes writers and guards enc.
	writeMu sync.Mutex
	enc     *encoder

	// viewMu is held shared by Entries and exclusively by writes that
	// change or remove stored entries, so a read never mixes two logs.
	viewMu sync.RWMutex

	// boundsMu guards first and last, the cached bounds of the log.
	// Invariant: first == 0 iff last == 0; otherwise first <= last and
	// every index in [first, last] holds an entry record.
	boundsMu    sync.Mutex
	first, last uint64

	// cache holds the newest entries; it is updated after each successful
	// write, under viewMu when the write changes existing entries.
	cache *tailcache.Cache

	closed atomic.Bool
}

var _ logstore.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir. Errors name the file
// and the cause; a file that is not a bolt database, is truncated, or
// holds a log with a hole wraps logstore.ErrCorrupt.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.CacheEntries == 0 {
		opts.CacheEntries = 8192
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 16 << 20
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logstore/boltdb: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := preflight(path); err != nil {
		return nil, err
	}
	db, err := raftboltdb.New(raftboltdb.Options{
		Path:        path,
		BoltOptions: &bbolt.Options{Timeout: opts.LockTimeout, FreelistType: bbolt.FreelistMapType},
		NoSync:      opts.UnsafeNoSync,
	})
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrChecksum), errors.Is(err, bbolt.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: open %s: %v", logstore.ErrCorrupt, path, err)
	case err != nil:
		return nil, fmt.Errorf("logstore/boltdb: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, logger: opts.Logger, enc: newEncoder(),
		cache: tailcache.New(opts.CacheEntries, opts.CacheBytes)}
	if created && !opts.UnsafeNoSync {
		// Bolt fsyncs the file it creates but not the directory entry.
		if err := syncDir(dir); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if err := s.loadBounds(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// loadBounds reads the log's bounds, dropping tombstones left at either
// end by a write whose clean-up a crash interrupted. The last entry is the
// end of the live record with the highest key; the first is the live
// record with the lowest key.
func (s *Store) loadBounds() error {
	boltFirst, err := s.db.FirstIndex()
	if err != nil {
		return fmt.Errorf("logstore/boltdb: %s: read first index: %w", s.path, err)
	}
	boltLast, err := s.db.LastIndex()
	if err != nil {
		return fmt.Errorf("logstore/boltdb: %s: read last index: %w", s.path, err)
	}
	var lastKey, last uint64
	for k := boltLast; k >= boltFirst && k > 0; k-- {
		rec, found, err := s.recordAt(k)
		if err != nil {
			return err
		}
		if found && !rec.tombstone {
			lastKey, last = k, k+rec.n-1
			break
		}
	}
	if last == 0 {
		if boltLast != 0 {
			s.logger.Warn("dropping tombstones: no entry left", "path", s.path, "from", boltFirst, "to", boltLast)
			if err := s.db.DeleteRange(0, math.MaxUint64); err != nil {
				return fmt.Errorf("logstore/boltdb: %s: drop tombstones: %w", s.path, err)
			}
		}
		return nil
	}
	if boltLast > last {
		s.logger.Warn("dropping tombstones after the last entry", "path", s.path, "from", last+1, "to", boltLast)
		if err := s.db.DeleteRange(last+1, boltLast); err != nil {
			return fmt.Errorf("logstore/boltdb: %s: drop tombstones: %w", s.path, err)
		}
	}
	first := lastKey
	for k := boltFirst; k < lastKey; k++ {
		rec, found, err := s.recordAt(k)
		if err != nil {
			return err
		}
		if found && !rec.tombstone {
			first = k
			break
		}
	}
	if first > boltFirst {
		s.logger.Warn("dropping tombstones before the first entry", "path", s.path, "from", boltFirst, "to", first-1)
		if err := s.db.DeleteRange(boltFirst, first-1); err != nil {
			return fmt.Errorf("logstore/boltdb: %s: drop tombstones: %w", s.path, err)
		}
	}
	s.first, s.last = first, last
	return nil
}

// recordAt reads the record stored under key; found is false if there is
// none.
func (s *Store) recordAt(key uint64) (rec record, found bool, err error) {
	l := new(raft.Log)
	if err := s.db.GetLog(key, l); err != nil {
		if errors.Is(err, raft.ErrLogNotFound) {
			return record{}, false, nil
		}
		return record{}, false, s.readErr(key, err)
	}
	rec, err = parseRecord(key, l)
	if err != nil {
		return record{}, false, fmt.Errorf("%s: %w", s.path, err)
	}
	return rec, true, nil
}

// maxProbe bounds how far back findRun steps. Runs are at most
// maxRunEntries long; the margin is for files written with other limits.
const maxProbe = 4096

// findRun returns the key and the live record holding index, which must be
// within the log's bounds (first is the log's first index): the first
// live record at or below index, stepping over missing keys and
// tombstones (see run.go). A record that ends before index means a hole.
func (s *Store) findRun(index, first uint64) (uint64, record, error) {
	lowest := first
	if index-first > maxProbe {
		lowest = index - maxProbe
	}
	for k := index; k >= lowest && k > 0; k-- {
		rec, found, err := s.recordAt(k)
		if err != nil {
			return 0, record{}, err
		}
		if !found || rec.tombstone {
			continue
		}
		if k+rec.n > index {
			return k, rec, nil
		}
		break
	}
	return 0, record{}, fmt.Errorf("%w: %s: entry %d is missing from the log", logstore.ErrCorrupt, s.path, index)
}

// readErr explains a failed GetLog of an index inside the cached bounds.
func (s *Store) readErr(index uint64, err error) error {
	if errors.Is(err, raft.ErrLogNotFound) {
		return fmt.Errorf("%w: %s: entry %d is missing from the log", logstore.ErrCorrupt, s.path, index)
	}
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return logstore.ErrClosed
	}
	return fmt.Errorf("%w: %s: entry %d: %v", logstore.ErrCorrupt, s.path, index, err)
}

func (s *Store) bounds() (first, last uint64) {
	s.boundsMu.Lock()
	defer s.boundsMu.Unlock()
	return s.first, s.last
}

func (s *Store) setBounds(first, last uint64) {
	s.boundsMu.Lock()
	defer s.boundsMu.Unlock()
	s.first, s.last = first, last
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// FirstIndex returns the index of the first entry, or 0 if there is none.
func (s *Store) FirstIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, logstore.ErrClosed
	}
	first, _ := s.bounds()
	return first, nil
}

// LastIndex returns the index of the last entry, or 0 if there is none.
func (s *Store) LastIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, logstore.ErrClosed
	}
	_, last := s.bounds()
	return last, nil
}

// Entries returns the entries in [lo, hi) as logstore.LogStore describes.
// A record that fails its checksum or does not decode is an error wrapping
// logstore.ErrCorrupt that names its index.
func (s *Store) Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error) {
	s.viewMu.RLock()
	defer s.viewMu.RUnlock()
	if s.closed.Load() {
		return nil, logstore.ErrClosed
	}
	first, last := s.bounds()
	if err := logstore.CheckRange(lo, hi, first, last); err != nil || lo == hi {
		return nil, err
	}
	out := make([]wire.Entry, 0, min(hi-lo, 1024))
	var size uint64
	for idx := lo; idx < hi; {
		var next uint64
		var full bool
		if out, next, full = s.cache.AppendRange(out, idx, hi, &size, maxBytes); full {
			return out, nil
		}
		if next > idx {
			idx = next
			continue
		}
		key, rec, err := s.findRun(idx, first)
		if err != nil {
			return nil, err
		}
		to := min(hi, key+rec.n)
		n0 := len(out)
		if out, err = rec.entries(out, idx, to); err != nil {
			return nil, fmt.Errorf("%s: %w", s.path, err)
		}
		for i := n0; i < len(out); i++ {
			size += out[i].Size()
			if maxBytes > 0 && i > 0 && size > maxBytes {
				return out[:i], nil
			}
		}
		idx = to
	}
	return out, nil
}

// StoreEntries writes entries in one bolt transaction (one fsync).
func (s *Store) StoreEntries(entries []wire.Entry) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return logstore.ErrClosed
	}
	if len(entries) == 0 {
		return nil
	}
	first, last := s.bounds()
	if err := logstore.CheckAppend(entries, first, last); err != nil {
		return err
	}
	start, end := entries[0].Index, entries[len(entries)-1].Index
	replacing := last != 0 && start <= last
	logs, err := s.plan(entries, first, last)
	if err != nil {
		return err
	}
	if replacing {
		// Readers must not see part of the old suffix and part of the new.
		s.viewMu.Lock()
		defer s.viewMu.Unlock()
	}
	if err := s.db.StoreLogs(logs); err != nil {
		return fmt.Errorf("logstore/boltdb: %s: store entries [%d, %d]: %w", s.path, start, end, err)
	}
	if first == 0 {
		first = start
	}
	s.cache.Stored(entries)
	s.setBounds(first, end)
	if replacing && end < last {
		// The log is already right; this only reclaims space. If it fails
		// the tombstones stay until the next Open drops them.
		if err := s.db.DeleteRange(end+1, last); err != nil {
			s.logger.Warn("failed to delete replaced entries", "path", s.path, "from", end+1, "to", last, "error", err)
		}
	}
	return nil
}

// plan returns the records that store entries in a log holding [first,
// last], which CheckAppend accepted. The caller holds writeMu.
func (s *Store) plan(entries []wire.Entry, first, last uint64) ([]*raft.Log, error) {
	start := entries[0].Index
	write := entries
	var tombFrom, tombTo uint64
	if last != 0 && start <= last {
		// Every old key from start on dies in this transaction (the new
		// records overwrite some of them), and the run holding start,
		// if it begins earlier, is written again with only its head
		// followed by the new entries: the records keep tiling the log.
		tombFrom, tombTo = start, last
		if start > first {
			key, rec, err := s.findRun(start, first)
			if err != nil {
				return nil, err
			}
			if key < start {
				head, err := rec.entries(nil, key, start)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", s.path, err)
				}
				write = append(head, entries...)
			}
		}
	}
	return s.enc.records(write, tombFrom, tombTo, nil)
}

// DeleteBefore removes every entry below index in one transaction.
func (s *Store) DeleteBefore(index uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return logstore.ErrClosed
	}
	first, last := s.bounds()
	if last == 0 || index <= first {
		return nil
	}
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if index > last {
		// Everything goes, including any tombstones past the end.
		if err := s.db.DeleteRange(0, math.MaxUint64); err != nil {
			return fmt.Errorf("logstore/boltdb: %s: delete entries before %d: %w", s.path, index, err)
		}
		s.cache.Reset()
		s.setBounds(0, 0)
		return nil
	}
	key, rec, err := s.findRun(index, first)
	if err != nil {
		return err
	}
	if key < index {
		if err := s.splitRun(key, rec, index, first); err != nil {
			return err
		}
	}
	if err := s.db.DeleteRange(0, index-1); err != nil {
		if key < index {
			// The log already starts at index (see splitRun); the dead
			// keys stay until the next Open drops them.
			s.logger.Warn("failed to delete compacted entries", "path", s.path, "before", index, "error", err)
		} else {
			return fmt.Errorf("logstore/boltdb: %s: delete entries before %d: %w", s.path, index, err)
		}
	}
	s.cache.DropBefore(index)
	s.setBounds(index, last)
	return nil
}

// splitRun makes index, inside the run at key, the log's first entry in
// one transaction: the tail of the run is written again under index, and
// every live key from first to key becomes a tombstone, so that a crash
// leaves either the old log or the compacted one (Open drops the dead
// keys before the first live one).
func (s *Store) splitRun(key uint64, rec record, index, first uint64) error {
	tail, err := rec.entries(nil, index, key+rec.n)
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	var dead []uint64
	for k := first; k <= key; {
		r, found, err := s.recordAt(k)
		if err != nil {
			return err
		}
		if !found || r.tombstone {
			return fmt.Errorf("%w: %s: entry %d is missing from the log", logstore.ErrCorrupt, s.path, k)
		}
		dead = append(dead, k)
		k += r.n
	}
	logs, err := s.enc.records(tail, 0, 0, dead)
	if err != nil {
		return err
	}
	if err := s.db.StoreLogs(logs); err != nil {
		return fmt.Errorf("logstore/boltdb: %s: delete entries before %d: %w", s.path, index, err)
	}
	return nil
}

// HardState returns the last HardState saved, and false if none was.
func (s *Store) HardState() (wire.HardState, bool, error) {
	if s.closed.Load() {
		return wire.HardState{}, false, logstore.ErrClosed
	}
	b, err := s.db.Get(hardStateKey)
	if errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return wire.HardState{}, false, nil
	}
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return wire.HardState{}, false, logstore.ErrClosed
	}
	if err != nil {
		return wire.HardState{}, false, fmt.Errorf("logstore/boltdb: %s: read hard state: %w", s.path, err)
	}
	hs, err := entrycodec.DecodeHardState(b)
	if err != nil {
		return wire.HardState{}, false, fmt.Errorf("%s: %w", s.path, err)
	}
	return hs, true, nil
}

// SetHardState durably replaces the saved HardState with one write.
func (s *Store) SetHardState(hs wire.HardState) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return logstore.ErrClosed
	}
	b, err := entrycodec.EncodeHardState(hs)
	if err != nil {
		return err
	}
	if err := s.db.Set(hardStateKey, b); err != nil {
		return fmt.Errorf("logstore/boltdb: %s: save hard state: %w", s.path, err)
	}
	return nil
}

// Close closes the database file; every later call returns
// logstore.ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if s.closed.Swap(true) {
		return logstore.ErrClosed
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("logstore/boltdb: close %s: %w", s.path, err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("logstore/boltdb: %w", err)
	}
	return nil
}
