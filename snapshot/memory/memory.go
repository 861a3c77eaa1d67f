// Package memory is an in-memory snapshot.Store, for tests and for nodes
// that keep nothing across restarts. It is safe for concurrent use.
package memory

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"sort"
	"sync"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/snapshot/internal/verify"
	"github.com/mandate-raft/mandate/wire"
)

// DefaultRetain is how many snapshots a Store keeps when Retain is 0.
const DefaultRetain = 3

// Store keeps snapshots in memory. Create one with New.
type Store struct {
	retain int

	mu   sync.Mutex
	seq  uint64
	snap map[string]*stored
}

type stored struct {
	meta wire.SnapshotMeta
	seq  uint64 // creation order, to rank snapshots of equal index
	data []byte
}

var _ snapshot.Store = (*Store)(nil)

// New returns an empty Store that keeps the newest retain snapshots
// (DefaultRetain if retain <= 0).
func New(retain int) *Store {
	if retain <= 0 {
		retain = DefaultRetain
	}
	return &Store{retain: retain, snap: map[string]*stored{}}
}

// Create starts a snapshot; it is visible once its Sink is closed.
func (s *Store) Create(meta wire.SnapshotMeta) (snapshot.Sink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	meta.ID = fmt.Sprintf("%d-%d-%d", meta.Term, meta.Index, s.seq)
	meta.Config = meta.Config.Clone()
	want := expect{size: meta.Size, sum: meta.Checksum}
	meta.Size, meta.Checksum = 0, 0
	return &sink{store: s, meta: meta, seq: s.seq, want: want}, nil
}

// List returns every snapshot's metadata, newest first.
func (s *Store) List() ([]wire.SnapshotMeta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]wire.SnapshotMeta, 0, len(s.snap))
	for _, st := range s.sortedLocked() {
		m := st.meta
		m.Config = m.Config.Clone()
		out = append(out, m)
	}
	return out, nil
}

// Open returns a snapshot's metadata and a reader of its data.
func (s *Store) Open(id string) (wire.SnapshotMeta, snapshot.ReadSeekCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.snap[id]
	if !ok {
		return wire.SnapshotMeta{}, nil, fmt.Errorf("%w: %q", snapshot.ErrNotFound, id)
	}
	m := st.meta
	m.Config = m.Config.Clone()
	// The data slice is never written after Close, so readers share it.
	r := verify.NewReader(bytes.NewReader(st.data), m.Size, m.Checksum, "snapshot "+id, nil)
	return m, r, nil
}

// sortedLocked returns the snapshots newest first.
func (s *Store) sortedLocked() []*stored {
	all := make([]*stored, 0, len(s.snap))
	for _, st := range s.snap {
		all = append(all, st)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].meta.Index != all[j].meta.Index {
			return all[i].meta.Index > all[j].meta.Index
		}
		return all[i].seq > all[j].seq
	})
	return all
}

func (s *Store) commit(st *stored) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap[st.meta.ID] = st
	for _, old := range s.sortedLocked()[min(s.retain, len(s.snap)):] {
		delete(s.snap, old.meta.ID)
	}
}

// expect is the size and checksum a caller announced for a snapshot.
type expect struct {
	size int64
	sum  uint32
}

// check reports whether data of the given size and checksum matches what
// was announced (nothing announced matches anything).
func (e expect) check(size int64, sum uint32) error {
	if e.size == 0 && e.sum == 0 {
		return nil
	}
	if size != e.size || sum != e.sum {
		return fmt.Errorf("%w: received %d bytes with checksum %08x, announced %d bytes with checksum %08x",
			snapshot.ErrCorrupt, size, sum, e.size, e.sum)
	}
	return nil
}

type sink struct {
	store *Store
	meta  wire.SnapshotMeta
	seq   uint64
	want  expect

	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (k *sink) ID() string { return k.meta.ID }

func (k *sink) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return 0, snapshot.ErrClosed
	}
	return k.buf.Write(p)
}

func (k *sink) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return snapshot.ErrClosed
	}
	k.done = true
	data := k.buf.Bytes()
	k.meta.Size = int64(len(data))
	k.meta.Checksum = crc32.Checksum(data, verify.Castagnoli)
	if err := k.want.check(k.meta.Size, k.meta.Checksum); err != nil {
		k.buf = bytes.Buffer{}
		return fmt.Errorf("snapshot %s: %w", k.meta.ID, err)
	}
	k.store.commit(&stored{meta: k.meta, seq: k.seq, data: data})
	return nil
}

func (k *sink) Cancel() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return snapshot.ErrClosed
	}
	k.done = true
	k.buf = bytes.Buffer{}
	return nil
}
