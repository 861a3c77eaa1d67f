// Package wal is a durable logstore.Store kept in append-only segment
// files: an append is one write and one fsync of the current segment, the
// least a durable append can cost, where the bolt store (logstore/boltdb)
// pays a bolt transaction and its two fsyncs.
//
// Files in the store's directory:
//
//   - segment files (segment.go), each holding the frames of consecutive
//     entries, with space reserved when it is created so that an append
//     changes no file size; a new one is started when the current one
//     reaches Options.SegmentSize;
//   - the meta file (meta.go): the hard state and the compaction point,
//     in two slots written in turn, one write and one fsync each;
//   - LOCK, held while the store is open.
//
// Every frame carries a CRC-32C chained to the frame before it, so damage
// is reported as logstore.ErrCorrupt naming the entry, and a frame left
// over from a log that was cut and written again is never read as part of
// the new one. A crash in the middle of an append leaves a torn tail,
// which Open recognizes (no written frame follows it, see
// followedByFrame) and cuts off.
//
// An append is not all or nothing, as a bolt transaction is: a crash in
// the middle of one may leave the first entries of its batch (the pages
// that reached the file), followed by nothing. Replacing a suffix is a
// cut, then an append; the store keeps the stored entries that a
// replacing batch repeats byte for byte and cuts only from the first that
// differs. So a crash during StoreEntries leaves the old log, or the old
// log cut somewhere at or after the first entry the batch changes, or the
// old log up to that entry followed by the first entries of the batch.
// Every entry before the first changed one is always kept. That is all
// Raft needs: nothing in an interrupted batch was acknowledged, each of
// its entries is in the log of the leader that sent it, and the entries a
// cut removes conflict with that leader's log, so none was committed.
package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/internal/durable"
	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/logstore/internal/tailcache"
)

// SegmentSuffix ends the name of every segment file, and MetaFileName is
// the meta file's name: what tells a directory of this store.
const (
	SegmentSuffix = segSuffix
	MetaFileName  = metaFileName
)

// lockFileName is the file Open locks so that two processes never write
// one directory.
const lockFileName = "LOCK"

// DefaultSegmentSize is the size at which a segment is sealed and the next
// one started when Options.SegmentSize is zero.
const DefaultSegmentSize = 64 << 20

// ErrLocked is returned by Open when another process (or another Store in
// this one) holds the directory.
var ErrLocked = errors.New("logstore/wal: directory is locked by another process")

// Options tune a Store. The zero value is the safe default.
type Options struct {
	// Logger receives warnings (a torn append cut off at Open, a clean-up
	// that failed), used as given (name it for the component). Default:
	// none.
	Logger hclog.Logger
	// LockTimeout is how long Open waits for another holder of the
	// directory to let go before it fails with ErrLocked. Default: 1s.
	LockTimeout time.Duration
	// SegmentSize is the size at which a segment is sealed and the next
	// one started; it is reserved on the disk when a segment is created.
	// Default: DefaultSegmentSize.
	SegmentSize int64
	// CacheEntries is how many of the most recently written entries are
	// kept in memory to serve reads without the disk; CacheBytes bounds
	// their total Size. Defaults: 8192 entries, 16 MiB. A negative
	// CacheEntries disables the cache.
	CacheEntries int
	CacheBytes   uint64
	// UnsafeNoSync skips fsync: a crash may lose or tear any write. For
	// benchmarks and throwaway tests only.
	UnsafeNoSync bool
}

// Store is a logstore.Store in segment files. It is safe for concurrent
// use: readers do not wait for an append's fsync, only for the moment it
// publishes what it wrote, and for writes that cut entries.
type Store struct {
	dir    string
	opts   Options
	logger hclog.Logger
	unlock func()

	// writeMu serializes writers and guards meta, enc, bodies, frames,
	// failed and the files' content.
	writeMu sync.Mutex
	meta    *metaFile
	enc     *entrycodec.Encoder
	bodies  []byte
	ends    []int
	frames  []byte
	// failed is set when a write failed part way: what the files hold is
	// then unknown, so every later write fails with it.
	failed error

	// replaceMu is held exclusively by a batch that replaces stored
	// entries, from its cut until its new entries are in, and shared by
	// every reader, taken before viewMu: a reader sees the old log or the
	// new one, never the cut one in between.
	replaceMu sync.RWMutex

	// viewMu guards segs, each segment's frame list and the bounds: held
	// shared by readers, exclusively by a writer publishing its work.
	viewMu      sync.RWMutex
	segs        []*segment
	first, last uint64 // first == 0 iff last == 0

	cache  *tailcache.Cache
	closed atomic.Bool
}

var _ logstore.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir. It cuts off an append
// that a crash tore. Damage to anything that was acknowledged is an error
// wrapping logstore.ErrCorrupt naming the file.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.CacheEntries == 0 {
		opts.CacheEntries = 8192
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 16 << 20
	}
	if err := makeDir(dir, !opts.UnsafeNoSync); err != nil {
		return nil, err
	}
	unlock, err := lockDir(filepath.Join(dir, lockFileName), opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, logger: opts.Logger, unlock: unlock, enc: entrycodec.NewEncoder(),
		cache: tailcache.New(opts.CacheEntries, opts.CacheBytes)}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// makeDir creates dir and its missing parents and, with sync, makes each
// one it creates durable in its parent: syncing dir makes the names of
// the files in it durable, not dir's own name.
func makeDir(dir string, sync bool) error {
	var syncFn func(string) error
	if sync {
		syncFn = syncDir
	}
	if err := durable.MkdirAll(dir, syncFn); err != nil {
		return fmt.Errorf("logstore/wal: create data directory: %w", err)
	}
	return nil
}

func (s *Store) sync() bool { return !s.opts.UnsafeNoSync }

// load reads the meta file and scans the segments.
func (s *Store) load() error {
	bases, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	m, fresh, err := openMeta(s.dir, len(bases) == 0, s.sync())
	if err != nil {
		return err
	}
	s.meta = m
	if fresh {
		return nil
	}
	var stale []string
	for i, base := range bases {
		tail := i == len(bases)-1
		g, err := openSegment(s.dir, base, tail, s.opts.SegmentSize, s.sync())
		if errors.Is(err, errTornHeader) && tail {
			s.logger.Warn("removing a segment whose creation a crash interrupted", "path", filepath.Join(s.dir, segName(base)))
			if err := s.removeFiles([]string{filepath.Join(s.dir, segName(base))}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if n := len(s.segs); n > 0 && s.segs[n-1].next() != g.base &&
			s.segs[n-1].lastIndex() < s.meta.cur.first && g.base <= s.meta.cur.first {
			// What is missing lies below the compaction point, and so do
			// the segments before the gap: compacted segments left behind
			// by a removal that failed, or by a crash that made the
			// removal of a later one durable but not theirs.
			for _, old := range s.segs {
				_ = old.f.Close()
				stale = append(stale, old.path)
			}
			s.segs = s.segs[:0]
		}
		if n := len(s.segs); n > 0 && s.segs[n-1].next() != g.base {
			_ = g.f.Close()
			return fmt.Errorf("%w: %s: entries [%d, %d) are missing between segments", logstore.ErrCorrupt,
				s.dir, s.segs[n-1].next(), g.base)
		}
		s.segs = append(s.segs, g)
	}
	// Segments wholly below the compaction point are left over from a
	// compaction whose clean-up a crash interrupted.
	for len(s.segs) > 1 && s.segs[0].lastIndex() < s.meta.cur.first {
		_ = s.segs[0].f.Close()
		stale = append(stale, s.segs[0].path)
		s.segs = s.segs[1:]
	}
	if err := s.removeFiles(stale); err != nil {
		s.logger.Warn("failed to remove compacted segments", "dir", s.dir, "error", err)
	}
	if n := len(s.segs); n > 0 {
		first, last := max(s.meta.cur.first, s.segs[0].base), s.segs[n-1].lastIndex()
		if last >= first && last > 0 {
			s.first, s.last = first, last
		}
	}
	return nil
}

// removeFile is os.Remove, a variable so that tests can make a removal
// fail.
var removeFile = os.Remove

// removeFiles removes paths and makes their removal durable.
func (s *Store) removeFiles(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	for _, p := range paths {
		if err := removeFile(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("logstore/wal: remove %s: %w", p, err)
		}
	}
	if s.sync() {
		return syncDir(s.dir)
	}
	return nil
}

// Close closes the files and releases the directory; every later call
// returns logstore.ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if s.closed.Swap(true) {
		return logstore.ErrClosed
	}
	if err := s.closeFiles(); err != nil {
		return fmt.Errorf("logstore/wal: close %s: %w", s.dir, err)
	}
	return nil
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, g := range s.segs {
		errs = append(errs, g.f.Close())
	}
	s.segs = nil
	if s.meta != nil {
		errs = append(errs, s.meta.close())
	}
	s.unlock()
	return errors.Join(errs...)
}
