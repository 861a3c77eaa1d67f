package wal

// Reading: the bounds and the entries, which readers take under replaceMu
// and viewMu shared, never waiting for an append's fsync.

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/wire"
)

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
