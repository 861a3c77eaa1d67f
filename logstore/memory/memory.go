// Package memory is an in-memory logstore.Store, for tests and for nodes
// that keep nothing across restarts. It is safe for concurrent use.
package memory

import (
	"sync"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// Store keeps a log and a HardState in memory. The zero value is not
// usable; call New.
type Store struct {
	mu sync.RWMutex
	// Invariant: entries[i].Index == entries[0].Index+i.
	entries []wire.Entry
	hs      wire.HardState
	hasHS   bool
	closed  bool
}

var _ logstore.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store { return &Store{} }

// FirstIndex returns the index of the first entry, or 0 if there is none.
func (s *Store) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, logstore.ErrClosed
	}
	return s.firstLocked(), nil
}

// LastIndex returns the index of the last entry, or 0 if there is none.
func (s *Store) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, logstore.ErrClosed
	}
	return s.lastLocked(), nil
}

func (s *Store) firstLocked() uint64 {
	if len(s.entries) == 0 {
		return 0
	}
	return s.entries[0].Index
}

func (s *Store) lastLocked() uint64 {
	if len(s.entries) == 0 {
		return 0
	}
	return s.entries[len(s.entries)-1].Index
}

// Entries returns copies of the entries in [lo, hi), limited by maxBytes as
// logstore.LogStore describes.
func (s *Store) Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, logstore.ErrClosed
	}
	first, last := s.firstLocked(), s.lastLocked()
	if err := logstore.CheckRange(lo, hi, first, last); err != nil || lo == hi {
		return nil, err
	}
	src := s.entries[lo-first : hi-first]
	n := logstore.LimitSize(src, maxBytes)
	out := make([]wire.Entry, n)
	for i := range n {
		out[i] = cloneEntry(src[i])
	}
	return out, nil
}

// StoreEntries appends entries, replacing any stored suffix from
// entries[0].Index on.
func (s *Store) StoreEntries(entries []wire.Entry) error {
	if len(entries) == 0 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return logstore.ErrClosed
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return logstore.ErrClosed
	}
	first, last := s.firstLocked(), s.lastLocked()
	if err := logstore.CheckAppend(entries, first, last); err != nil {
		return err
	}
	if len(s.entries) > 0 {
		// Drop the replaced suffix. Overwriting the backing array in place
		// is safe because Entries hands out clones only.
		s.entries = s.entries[:entries[0].Index-first]
	}
	for _, e := range entries {
		s.entries = append(s.entries, cloneEntry(e))
	}
	return nil
}

// DeleteBefore removes every entry below index.
func (s *Store) DeleteBefore(index uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return logstore.ErrClosed
	}
	first, last := s.firstLocked(), s.lastLocked()
	switch {
	case len(s.entries) == 0 || index <= first:
		return nil
	case index > last:
		s.entries = nil
	default:
		// Copy the survivors so the compacted prefix can be collected.
		s.entries = append([]wire.Entry(nil), s.entries[index-first:]...)
	}
	return nil
}

// HardState returns the last HardState saved.
func (s *Store) HardState() (wire.HardState, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return wire.HardState{}, false, logstore.ErrClosed
	}
	return s.hs, s.hasHS, nil
}

// SetHardState replaces the saved HardState.
func (s *Store) SetHardState(hs wire.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return logstore.ErrClosed
	}
	s.hs, s.hasHS = hs, true
	return nil
}

// Close releases the store's contents; every later call returns
// logstore.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return logstore.ErrClosed
	}
	s.closed = true
	s.entries = nil
	return nil
}

// cloneEntry copies e's byte slice and configuration so that neither the
// caller nor the store sees the other's later writes.
func cloneEntry(e wire.Entry) wire.Entry {
	if e.Data != nil {
		e.Data = append([]byte{}, e.Data...)
	}
	if e.Config != nil {
		c := e.Config.Clone()
		e.Config = &c
	}
	return e
}
