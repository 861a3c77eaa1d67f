package core

import (
	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// memStorage is the tests' durable log: a snapshot base and the entries
// after it. Writes are applied by the test harness as the Ready protocol
// says.
type memStorage struct {
	snap wire.SnapshotMeta
	// ents[0] is a dummy standing for the snapshot's last entry.
	ents []wire.Entry
}

func newMemStorage() *memStorage {
	return &memStorage{ents: []wire.Entry{{}}}
}

// newMemStorageWith returns a storage holding ents (indexes from 1).
func newMemStorageWith(ents ...wire.Entry) *memStorage {
	s := newMemStorage()
	s.write(ents)
	return s
}

func (s *memStorage) offset() uint64 { return s.ents[0].Index }

func (s *memStorage) FirstIndex() uint64 { return s.offset() + 1 }

func (s *memStorage) LastIndex() uint64 { return s.offset() + uint64(len(s.ents)) - 1 }

func (s *memStorage) Snapshot() wire.SnapshotMeta { return s.snap }

func (s *memStorage) Term(i uint64) (uint64, error) {
	if i < s.offset() {
		return 0, logstore.ErrCompacted
	}
	if i > s.LastIndex() {
		return 0, logstore.ErrUnavailable
	}
	return s.ents[i-s.offset()].Term, nil
}

func (s *memStorage) Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error) {
	if lo <= s.offset() {
		return nil, logstore.ErrCompacted
	}
	if hi > s.LastIndex()+1 {
		return nil, logstore.ErrUnavailable
	}
	ents := s.ents[lo-s.offset() : hi-s.offset()]
	return append([]wire.Entry(nil), limitSize(ents, maxBytes)...), nil
}

// write stores ents, replacing everything at or after ents[0].Index.
func (s *memStorage) write(ents []wire.Entry) {
	if len(ents) == 0 {
		return
	}
	first := ents[0].Index
	if first <= s.offset() {
		panic("memStorage: write below the snapshot")
	}
	if first > s.LastIndex()+1 {
		panic("memStorage: write leaves a gap")
	}
	s.ents = append(s.ents[:first-s.offset()], ents...)
}

// installSnapshot makes meta the base: entries it covers are dropped, and
// so is everything after it unless the log matches at its index.
func (s *memStorage) installSnapshot(meta wire.SnapshotMeta) {
	if t, err := s.Term(meta.Index); err == nil && t == meta.Term {
		s.ents = append([]wire.Entry{{Index: meta.Index, Term: meta.Term}}, s.ents[meta.Index-s.offset()+1:]...)
	} else {
		s.ents = []wire.Entry{{Index: meta.Index, Term: meta.Term}}
	}
	s.snap = meta
}

// compact takes a snapshot at index i (which must be stored) with config
// c, and drops the entries it covers.
func (s *memStorage) compact(i uint64, c wire.Configuration) {
	t, err := s.Term(i)
	if err != nil {
		panic(err)
	}
	s.installSnapshot(wire.SnapshotMeta{ID: "snap", Index: i, Term: t, Config: c})
}
