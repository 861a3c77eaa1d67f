package wal

// Writing: appends, suffix replacement (a cut, then an append),
// compaction and the hard state, serialized by writeMu.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

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
