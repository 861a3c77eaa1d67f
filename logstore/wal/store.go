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
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/logstore/internal/tailcache"
	"github.com/mandate-raft/mandate/wire"
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
	var created []string // deepest first
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("logstore/wal: create data directory: %w", err)
	}
	if sync {
		for i := len(created) - 1; i >= 0; i-- {
			if err := syncDir(filepath.Dir(created[i])); err != nil {
				return err
			}
		}
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

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// bounds returns the log's bounds; a writer must not call it while it
// holds replaceMu.
func (s *Store) bounds() (first, last uint64) {
	s.replaceMu.RLock()
	defer s.replaceMu.RUnlock()
	s.viewMu.RLock()
	defer s.viewMu.RUnlock()
	return s.first, s.last
}

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
// An entry that fails its checksum or does not decode is an error
// wrapping logstore.ErrCorrupt that names its index.
func (s *Store) Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error) {
	s.replaceMu.RLock()
	defer s.replaceMu.RUnlock()
	s.viewMu.RLock()
	defer s.viewMu.RUnlock()
	if s.closed.Load() {
		return nil, logstore.ErrClosed
	}
	if err := logstore.CheckRange(lo, hi, s.first, s.last); err != nil || lo == hi {
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
		g := s.segmentOf(idx)
		// A fresh buffer each time: the decoded entry may keep its bytes.
		body, err := g.readBody(idx, nil)
		if err != nil {
			return nil, err
		}
		ent, err := decodeBody(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.path, err)
		}
		size += ent.Size()
		if maxBytes > 0 && len(out) > 0 && size > maxBytes {
			return out, nil
		}
		out = append(out, ent)
		idx++
	}
	return out, nil
}

// segmentOf returns the segment holding index, which is within the
// bounds. The caller holds viewMu.
func (s *Store) segmentOf(index uint64) *segment {
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].base > index })
	return s.segs[i-1]
}

// decodeBody decodes a frame body: index, term, then the entry's payload.
func decodeBody(body []byte) (wire.Entry, error) {
	index := binary.BigEndian.Uint64(body)
	var ent wire.Entry
	if err := entrycodec.DecodePayload(body[frameFixedLen:], &ent); err != nil {
		return wire.Entry{}, entrycodec.Corruptf(index, "decode: %v", err)
	}
	ent.Index, ent.Term = index, binary.BigEndian.Uint64(body[8:])
	return ent, nil
}

// StoreEntries appends entries with one write and one fsync (two more
// when it starts a segment). A batch that replaces stored entries keeps
// those it repeats byte for byte, cuts the log before the first that
// differs, then appends the rest (see the package comment for what a
// crash between the two leaves).
func (s *Store) StoreEntries(entries []wire.Entry) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return logstore.ErrClosed
	}
	if s.failed != nil {
		return s.failed
	}
	if len(entries) == 0 {
		return nil
	}
	first, last := s.bounds()
	if err := logstore.CheckAppend(entries, first, last); err != nil {
		return err
	}
	if err := s.encode(entries); err != nil {
		return err
	}
	start, end := entries[0].Index, entries[len(entries)-1].Index
	from := 0 // the first entry to write
	if last != 0 && start <= last {
		var err error
		if from, err = s.repeated(entries, last); err != nil {
			return err
		}
		cut := end + 1
		if from < len(entries) {
			cut = entries[from].Index
		}
		if cut <= last {
			s.replaceMu.Lock()
			defer s.replaceMu.Unlock()
			if err := s.cut(cut); err != nil {
				return err
			}
		}
	}
	if from < len(entries) {
		if err := s.append(entries, from); err != nil {
			return err
		}
	}
	s.cache.Stored(entries)
	return nil
}

// encode encodes the bodies of entries into s.bodies, the end of each in
// s.ends. It refuses an entry too large for a frame, before anything is
// written.
func (s *Store) encode(entries []wire.Entry) error {
	s.bodies, s.ends = s.bodies[:0], s.ends[:0]
	for i := range entries {
		e := &entries[i]
		payload, err := s.enc.Payload(e)
		if err != nil {
			return fmt.Errorf("logstore/wal: %w", err)
		}
		if frameFixedLen+len(payload) > int(maxFrameBody) {
			// Open would take its frame for a damaged one and cut it off.
			return fmt.Errorf("logstore/wal: entry %d of %d bytes is larger than a frame can hold (%d bytes)",
				e.Index, frameFixedLen+len(payload), maxFrameBody)
		}
		s.bodies = binary.BigEndian.AppendUint64(s.bodies, e.Index)
		s.bodies = binary.BigEndian.AppendUint64(s.bodies, e.Term)
		s.bodies = append(s.bodies, payload...)
		s.ends = append(s.ends, len(s.bodies))
	}
	return nil
}

// body returns the encoded body of the i-th entry of the batch.
func (s *Store) body(i int) []byte {
	from := 0
	if i > 0 {
		from = s.ends[i-1]
	}
	return s.bodies[from:s.ends[i]]
}

// repeated returns how many of entries, from the first on, are stored
// already with the same bytes.
func (s *Store) repeated(entries []wire.Entry, last uint64) (int, error) {
	s.viewMu.RLock()
	defer s.viewMu.RUnlock()
	var buf []byte
	for i := range entries {
		idx := entries[i].Index
		if idx > last {
			return i, nil
		}
		old, err := s.segmentOf(idx).readBody(idx, buf)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(old, s.body(i)) {
			return i, nil
		}
		buf = old[:0:cap(old)]
	}
	return len(entries), nil
}

// cut removes the entries from index from on, which is within the bounds:
// whole segments from the last back, then the frames of the segment that
// holds from-1. Readers wait for it.
func (s *Store) cut(from uint64) (err error) {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	defer func() {
		// Even when the cut fails part way, the entries from from on are
		// no longer served: their segments may be closed and removed
		// already, and their frames truncated, while what is left still
		// holds every entry before from.
		s.last = from - 1
		if s.last < s.first {
			s.first, s.last = 0, 0
		}
		if err != nil {
			s.failed = fmt.Errorf("logstore/wal: %s: a cut failed part way, restart to reopen the store: %w", s.dir, err)
		}
	}()
	s.cache.Reset()
	var gone []string
	for n := len(s.segs); n > 0 && s.segs[n-1].base >= from; n-- {
		g := s.segs[n-1]
		_ = g.f.Close()
		gone = append(gone, g.path)
		s.segs = s.segs[:n-1]
	}
	// One at a time, each made durable before the next: removals that a
	// crash catches before a directory sync may survive in any subset,
	// and a segment removed while a later one stays is a gap.
	for _, p := range gone {
		if err := s.removeFiles([]string{p}); err != nil {
			return err
		}
	}
	if n := len(s.segs); n > 0 {
		if g := s.segs[n-1]; g.next() > from {
			if err := g.cutAt(g.frames[from-g.base].off, s.opts.SegmentSize, s.sync()); err != nil {
				return err
			}
		}
	}
	return nil
}

// append writes entries[from:], whose bodies s.encode holds, after the
// last entry, or as the first entries of an empty log.
func (s *Store) append(entries []wire.Entry, from int) error {
	start := entries[from].Index
	s.viewMu.RLock()
	empty := s.last == 0
	var tail *segment
	if n := len(s.segs); n > 0 {
		tail = s.segs[n-1]
	}
	s.viewMu.RUnlock()
	if empty {
		if err := s.startOver(start); err != nil {
			return err
		}
		tail = nil
	}
	size := int64(0)
	for i := from; i < len(entries); i++ {
		size += frameHeadLen + int64(len(s.body(i)))
	}
	var fresh *segment
	if tail == nil || (len(tail.frames) > 0 && tail.end+size > s.opts.SegmentSize) {
		g, err := createSegment(s.dir, start, s.opts.SegmentSize, s.sync())
		if err != nil {
			return err
		}
		tail, fresh = g, g
	}
	s.frames = s.frames[:0]
	locs := make([]frameLoc, 0, len(entries)-from)
	prev, off := tail.lastCRC, tail.end
	for i := from; i < len(entries); i++ {
		body := s.body(i)
		locs = append(locs, frameLoc{off: off + int64(len(s.frames)), size: uint32(len(body)), prev: prev})
		s.frames, prev = appendFrame(s.frames, prev, body)
	}
	if _, err := tail.f.WriteAt(s.frames, off); err != nil {
		return s.writeFailed(fresh, fmt.Errorf("logstore/wal: %s: store entries [%d, %d]: %w", tail.path, start, entries[len(entries)-1].Index, err))
	}
	if s.sync() {
		if err := fdatasync(tail.f); err != nil {
			return s.writeFailed(fresh, fmt.Errorf("logstore/wal: %s: sync entries [%d, %d]: %w", tail.path, start, entries[len(entries)-1].Index, err))
		}
	}
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if fresh != nil {
		s.segs = append(s.segs, fresh)
	}
	tail.frames = append(tail.frames, locs...)
	tail.end = off + int64(len(s.frames))
	tail.lastCRC = prev
	if s.first == 0 {
		s.first = start
	}
	s.last = entries[len(entries)-1].Index
	return nil
}

// writeFailed records that an append failed after it may have written
// part of its frames: a file whose fsync failed cannot be trusted to hold
// what a later read returns, so the store takes no more writes.
func (s *Store) writeFailed(fresh *segment, err error) error {
	if fresh != nil {
		_ = fresh.f.Close()
		_ = os.Remove(fresh.path)
	}
	s.failed = fmt.Errorf("%w (the store takes no more writes: free space or fix the disk, then restart)", err)
	return err
}

// startOver prepares an empty log for entries from index start on: it
// removes the segments (they hold only compacted or cut frames) and, if
// the compaction point is above start, lowers it, so that Open finds the
// new entries.
//
// The segments go first: with the compaction point lowered while they
// remain, a crash would bring their frames back into the log.
//
// Every segment file in the directory goes, not only the open ones: a
// compacted segment whose removal failed is closed but still there, and
// with the compaction point lowered its entries would come back.
func (s *Store) startOver(start uint64) error {
	s.viewMu.Lock()
	for _, g := range s.segs {
		_ = g.f.Close()
	}
	s.segs = nil
	s.viewMu.Unlock()
	bases, err := listSegments(s.dir)
	if err == nil {
		gone := make([]string, 0, len(bases))
		for _, base := range bases {
			gone = append(gone, filepath.Join(s.dir, segName(base)))
		}
		err = s.removeFiles(gone)
	}
	if err != nil {
		s.failed = fmt.Errorf("logstore/wal: %s: restart to reopen the store: %w", s.dir, err)
		return err
	}
	if s.meta.cur.first > start {
		next := s.meta.cur
		next.first = 0
		if err := s.meta.write(next); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBefore removes every entry below index: it records the new first
// index in the meta file (one fsync), then removes the segments that hold
// only entries below it.
func (s *Store) DeleteBefore(index uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return logstore.ErrClosed
	}
	if s.failed != nil {
		return s.failed
	}
	first, last := s.bounds()
	if last == 0 || index <= first {
		return nil
	}
	next := s.meta.cur
	next.first = index
	if err := s.meta.write(next); err != nil {
		return err
	}
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	var gone []string
	keepFrom := 0
	for keepFrom < len(s.segs) && (index > last || s.segs[keepFrom].lastIndex() < index) {
		_ = s.segs[keepFrom].f.Close()
		gone = append(gone, s.segs[keepFrom].path)
		keepFrom++
	}
	s.segs = append([]*segment(nil), s.segs[keepFrom:]...)
	if index > last {
		s.first, s.last = 0, 0
		s.cache.Reset()
	} else {
		s.first = index
		s.cache.DropBefore(index)
	}
	if err := s.removeFiles(gone); err != nil {
		// The meta file already puts the log's start at index; Open
		// removes what is left.
		s.logger.Warn("failed to remove compacted segments", "dir", s.dir, "error", err)
	}
	return nil
}

// HardState returns the last HardState saved, and false if none was.
func (s *Store) HardState() (wire.HardState, bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return wire.HardState{}, false, logstore.ErrClosed
	}
	return s.meta.cur.hs, s.meta.cur.hasHS, nil
}

// SetHardState durably replaces the saved HardState with one write and
// one fsync of the meta file.
func (s *Store) SetHardState(hs wire.HardState) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return logstore.ErrClosed
	}
	if s.failed != nil {
		return s.failed
	}
	next := s.meta.cur
	next.hs, next.hasHS = hs, true
	return s.meta.write(next)
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
