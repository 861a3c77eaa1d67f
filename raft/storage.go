package raft

import (
	"errors"
	"fmt"
	"sync"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// Bounds of the in-memory tail cache. Replication to followers that keep
// up reads only recent entries, so a modest tail serves nearly every read
// without touching the disk.
const (
	cacheMaxEntries = 8192
	cacheMaxBytes   = 32 << 20
	// cacheArrayCap is the capacity of a new backing array for the cache.
	// The oldest entries are dropped by reslicing (readers may still hold
	// them, so they are never overwritten), and the array is replaced only
	// when appends reach its end: with room for twice the bound, that
	// costs one copy of the newest entries per ~cacheMaxEntries appended,
	// instead of a new array and a copy of the whole cache every few
	// thousand entries.
	cacheArrayCap = 2 * cacheMaxEntries
)

// logStorage is the core's view (core.Storage) of the durable log: a
// logstore.Store, the newest snapshot as the log's base, and a cache of
// the most recently written entries. The storage stage writes through it
// and the event loop reads it concurrently, hence the mutex.
type logStorage struct {
	mu    sync.RWMutex
	store logstore.Store
	// snap is the newest snapshot known to the node (its data is in the
	// snapshot store under snap.ID).
	snap wire.SnapshotMeta
	// prevIndex and prevTerm describe the entry just before the first
	// available one: the snapshot, or the newest entry compaction removed.
	// Invariant: prevIndex+1 == FirstIndex().
	prevIndex, prevTerm uint64
	// last is the index of the last durable entry (prevIndex if none),
	// and lastTerm its term. The core needs that term at every election
	// and vote and cannot do without it, so it is kept here rather than
	// read from the store, whose reads may fail.
	last, lastTerm uint64
	// cache holds the durable entries [cache[0].Index, last], contiguous.
	// Slices handed to readers are capped at their length and the cache is
	// copied, never overwritten in place, when a suffix is replaced, so a
	// reader's slice never changes under it.
	cache      []wire.Entry
	cacheBytes uint64
	// deadBytes is the size of the entries dropped from the head of the
	// cache that its backing array still holds (and so keeps alive); past
	// a quarter of cacheMaxBytes the array is replaced to free them.
	deadBytes uint64
	// onCorrupt, when set, is told of every read that found the store
	// corrupt: a node whose log is corrupt must stop serving.
	onCorrupt func(error)
}

// checkRead reports err to onCorrupt when it is an integrity failure, and
// returns it.
func (s *logStorage) checkRead(err error) error {
	if err != nil && errors.Is(err, logstore.ErrCorrupt) && s.onCorrupt != nil {
		s.onCorrupt(err)
	}
	return err
}

// newLogStorage loads the log's bounds from store, using snap (possibly
// empty) as the base. Entries at or below the snapshot that no longer
// match it (a snapshot installed from a leader before the crash removed
// the conflicting log) are discarded.
func newLogStorage(store logstore.Store, snap wire.SnapshotMeta) (*logStorage, error) {
	s := &logStorage{store: store, snap: snap}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// reload reads the store's bounds again, dropping the cache.
func (s *logStorage) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache, s.cacheBytes, s.deadBytes = nil, 0, 0
	first, err := s.store.FirstIndex()
	if err != nil {
		return fmt.Errorf("read first log index: %w", err)
	}
	last, err := s.store.LastIndex()
	if err != nil {
		return fmt.Errorf("read last log index: %w", err)
	}
	snapIdx := s.snap.Index
	if first > snapIdx+1 {
		// The entries between the snapshot and the log are gone: the FSM
		// cannot be rebuilt.
		return fmt.Errorf("%w: log starts at %d but the newest usable snapshot ends at %d", logstore.ErrCorrupt, first, snapIdx)
	}
	conflicts := false
	if first != 0 && snapIdx > 0 {
		conflicts = last < snapIdx
		if !conflicts && first <= snapIdx {
			// A read that fails is not a disagreement: discarding the log
			// then would drop entries after the snapshot that this node
			// may have acknowledged.
			t, err := s.storedTerm(snapIdx)
			if err != nil {
				return err
			}
			conflicts = t != s.snap.Term
		}
	}
	if conflicts {
		// The snapshot replaced a log that disagrees with it.
		if err := s.store.DeleteBefore(last + 1); err != nil {
			return fmt.Errorf("discard log that conflicts with snapshot %d: %w", snapIdx, err)
		}
		first, last = 0, 0
	}
	switch {
	case first == 0:
		s.prevIndex, s.prevTerm, s.last = snapIdx, s.snap.Term, snapIdx
	case first == snapIdx+1:
		s.prevIndex, s.prevTerm, s.last = snapIdx, s.snap.Term, last
	default:
		// Entries below the snapshot survive (trailing logs). The term of
		// the entry before the first is unknown, so the first stored entry
		// serves as the base.
		t, err := s.storedTerm(first)
		if err != nil {
			return err
		}
		s.prevIndex, s.prevTerm, s.last = first, t, last
	}
	s.lastTerm = s.prevTerm
	if s.last > s.prevIndex {
		// A store that cannot give the last entry's term is refused here,
		// with the store's own error.
		t, err := s.storedTerm(s.last)
		if err != nil {
			return err
		}
		s.lastTerm = t
	}
	return nil
}

func (s *logStorage) storedTerm(i uint64) (uint64, error) {
	ents, err := s.store.Entries(i, i+1, 0)
	if err != nil {
		return 0, fmt.Errorf("read term of entry %d: %w", i, err)
	}
	if len(ents) != 1 || ents[0].Index != i {
		return 0, fmt.Errorf("%w: entry %d missing", logstore.ErrCorrupt, i)
	}
	return ents[0].Term, nil
}

// FirstIndex implements core.Storage.
func (s *logStorage) FirstIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.prevIndex + 1
}

// LastIndex implements core.Storage.
func (s *logStorage) LastIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last
}

// Snapshot implements core.Storage.
func (s *logStorage) Snapshot() wire.SnapshotMeta {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snap
}

// Term implements core.Storage.
func (s *logStorage) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case i < s.prevIndex:
		return 0, logstore.ErrCompacted
	case i > s.last:
		return 0, logstore.ErrUnavailable
	case i == s.prevIndex:
		return s.prevTerm, nil
	case i == s.last:
		return s.lastTerm, nil
	}
	if e, ok := s.cached(i); ok {
		return e.Term, nil
	}
	t, err := s.storedTerm(i)
	return t, s.checkRead(err)
}

func (s *logStorage) cached(i uint64) (wire.Entry, bool) {
	if len(s.cache) == 0 || i < s.cache[0].Index || i > s.last {
		return wire.Entry{}, false
	}
	return s.cache[i-s.cache[0].Index], true
}

// Entries implements core.Storage.
func (s *logStorage) Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if lo <= s.prevIndex {
		return nil, logstore.ErrCompacted
	}
	if hi > s.last+1 || lo >= hi {
		if lo >= hi && hi <= s.last+1 {
			return nil, nil
		}
		return nil, logstore.ErrUnavailable
	}
	if len(s.cache) > 0 && lo >= s.cache[0].Index {
		off := s.cache[0].Index
		ents := s.cache[lo-off : hi-off : hi-off]
		return limitSize(ents, maxBytes), nil
	}
	ents, err := s.store.Entries(lo, hi, maxBytes)
	if err != nil {
		return nil, s.checkRead(fmt.Errorf("read entries [%d, %d): %w", lo, hi, err))
	}
	return ents, nil
}

// limitSize returns the longest prefix of ents (at least one entry) whose
// total Size does not exceed maxBytes (0: unlimited).
func limitSize(ents []wire.Entry, maxBytes uint64) []wire.Entry {
	if maxBytes == 0 || len(ents) == 0 {
		return ents
	}
	size := ents[0].Size()
	n := 1
	for ; n < len(ents); n++ {
		size += ents[n].Size()
		if size > maxBytes {
			break
		}
	}
	return ents[:n:n]
}

// append durably writes ents (consecutive, replacing any suffix from
// ents[0].Index) and then makes them visible to the core.
func (s *logStorage) append(ents []wire.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	if err := s.store.StoreEntries(ents); err != nil {
		return fmt.Errorf("store entries [%d, %d]: %w", ents[0].Index, ents[len(ents)-1].Index, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first := ents[0].Index
	if len(s.cache) > 0 && first <= s.last {
		// A suffix is replaced: copy, so that readers keep their view.
		keep := 0
		if first > s.cache[0].Index {
			keep = int(first - s.cache[0].Index)
		}
		old := s.cache[:keep]
		s.cache = append(make([]wire.Entry, 0, keep+len(ents)), old...)
		s.cacheBytes, s.deadBytes = 0, 0
		for i := range s.cache {
			s.cacheBytes += s.cache[i].Size()
		}
	} else if len(s.cache) > 0 && first != s.last+1 {
		s.cache, s.cacheBytes, s.deadBytes = nil, 0, 0
	}
	for i := range ents {
		s.cacheBytes += ents[i].Size()
	}
	if len(s.cache)+len(ents) > cap(s.cache) {
		// The array is full: move to a new one, keeping three quarters
		// of the bounds so that the next move is far off.
		s.dropCached(cacheMaxEntries*3/4, cacheMaxBytes*3/4, len(ents))
		s.moveCache(max(cacheArrayCap, len(s.cache)+len(ents)))
	}
	s.cache = append(s.cache, ents...)
	s.last, s.lastTerm = ents[len(ents)-1].Index, ents[len(ents)-1].Term
	s.dropCached(cacheMaxEntries, cacheMaxBytes, 0)
	if s.deadBytes > cacheMaxBytes/4 {
		s.moveCache(cacheArrayCap)
	}
	return nil
}

// dropCached drops the oldest cached entries, by reslicing, until the
// cache plus incoming more entries is within maxEntries and its size
// within maxBytes (the newest entry always stays).
func (s *logStorage) dropCached(maxEntries int, maxBytes uint64, incoming int) {
	drop := 0
	for drop < len(s.cache)-1 && (len(s.cache)-drop+incoming > maxEntries || s.cacheBytes > maxBytes) {
		size := s.cache[drop].Size()
		s.cacheBytes -= size
		s.deadBytes += size
		drop++
	}
	s.cache = s.cache[drop:]
}

// moveCache copies the cache into a new array of capacity c, so that the
// old array, with the dropped entries it holds, can be freed once no
// reader holds it.
func (s *logStorage) moveCache(c int) {
	s.cache = append(make([]wire.Entry, 0, max(c, len(s.cache))), s.cache...)
	s.deadBytes = 0
}

// installSnapshot makes meta (already in the snapshot store) the base of
// the log: entries up to meta.Index are discarded, and so is everything
// after when the log disagrees with the snapshot at meta.Index.
func (s *logStorage) installSnapshot(meta wire.SnapshotMeta) error {
	s.mu.RLock()
	matches := false
	if meta.Index > s.prevIndex && meta.Index <= s.last {
		if e, ok := s.cached(meta.Index); ok {
			matches = e.Term == meta.Term
		} else {
			// A read that fails says nothing of the term: taking the
			// log for a conflicting one would discard the entries after
			// the snapshot, which this node may have acknowledged.
			t, err := s.storedTerm(meta.Index)
			if err != nil {
				s.mu.RUnlock()
				return fmt.Errorf("install snapshot %d: %w", meta.Index, err)
			}
			matches = t == meta.Term
		}
	} else if meta.Index == s.prevIndex {
		matches = meta.Term == s.prevTerm
	}
	last := s.last
	s.mu.RUnlock()

	cut := meta.Index + 1
	if !matches {
		cut = max(last, meta.Index) + 1
	}
	if err := s.store.DeleteBefore(cut); err != nil {
		return fmt.Errorf("discard log before snapshot %d: %w", meta.Index, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if meta.Index > s.snap.Index {
		s.snap = meta
	}
	s.prevIndex, s.prevTerm = meta.Index, meta.Term
	if !matches {
		s.last, s.lastTerm = meta.Index, meta.Term
		s.cache, s.cacheBytes, s.deadBytes = nil, 0, 0
	} else {
		s.dropCachedBefore(cut)
	}
	return nil
}

// dropCachedBefore removes cached entries below index.
func (s *logStorage) dropCachedBefore(index uint64) {
	for len(s.cache) > 0 && s.cache[0].Index < index {
		size := s.cache[0].Size()
		s.cacheBytes -= size
		s.deadBytes += size
		s.cache = s.cache[1:]
	}
}

// setSnapshot records a snapshot this node took, without touching the log.
// Older snapshots than the one known are ignored.
func (s *logStorage) setSnapshot(meta wire.SnapshotMeta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if meta.Index > s.snap.Index {
		s.snap = meta
	}
}

// compact removes the entries below index, which must be covered by the
// newest snapshot. It keeps the log's base consistent for the core.
func (s *logStorage) compact(index uint64) error {
	s.mu.RLock()
	prev, snapIdx := s.prevIndex, s.snap.Index
	s.mu.RUnlock()
	if index > snapIdx+1 {
		index = snapIdx + 1
	}
	if index <= prev+1 {
		return nil
	}
	// The entry before the new first one becomes the base; learn its term
	// before it is deleted.
	t, err := s.Term(index - 1)
	if err != nil {
		if errors.Is(err, logstore.ErrCompacted) {
			return nil
		}
		return fmt.Errorf("compact log before %d: %w", index, err)
	}
	if err := s.store.DeleteBefore(index); err != nil {
		return fmt.Errorf("compact log before %d: %w", index, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if index-1 > s.prevIndex {
		s.prevIndex, s.prevTerm = index-1, t
		s.dropCachedBefore(index)
	}
	return nil
}
