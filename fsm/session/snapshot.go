package session

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mandate-raft/mandate/fsm"
)

// snapMagic starts the session layer's part of a snapshot; the inner FSM's
// snapshot follows it.
var snapMagic = [4]byte{0xc1, 'M', 'S', 'S'}

const snapVersion = 1

// Limits on what Restore accepts, so a corrupt snapshot cannot make it
// allocate without bound.
const (
	maxSnapResult   = 64 << 20
	maxSnapPrealloc = 1 << 16
)

// snapClient is a session as copied by Snapshot; its results are
// snapshot.results[lo:hi].
type snapClient struct {
	id       string
	lastSeen int64
	floor    uint64
	lo, hi   int
}

type snapshot struct {
	now     int64
	clients []snapClient
	results []remembered
	inner   fsm.Snapshot
}

// Snapshot copies the session table into two flat slices (remembered
// results are immutable, so only their headers are copied: two
// allocations however many sessions) and takes the inner FSM's snapshot.
func (f *FSM) Snapshot() (fsm.Snapshot, error) {
	inner, err := f.inner.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("session: inner snapshot: %w", err)
	}
	n := f.clients.len()
	s := &snapshot{now: f.now, clients: make([]snapClient, 0, n), results: make([]remembered, 0, n), inner: inner}
	for c := f.clients.oldest; c != nil; c = c.next {
		lo := len(s.results)
		s.results = append(s.results, c.results...)
		s.clients = append(s.clients, snapClient{id: c.id, lastSeen: c.lastSeen, floor: c.floor, lo: lo, hi: len(s.results)})
	}
	return s, nil
}

// Persist writes the session table, then the inner snapshot.
func (s *snapshot) Persist(sink io.Writer) error {
	w := bufio.NewWriterSize(sink, 64<<10)
	var buf []byte
	buf = append(buf, snapMagic[:]...)
	buf = append(buf, snapVersion)
	buf = binary.AppendVarint(buf, s.now)
	buf = binary.AppendUvarint(buf, uint64(len(s.clients)))
	for _, c := range s.clients {
		buf = binary.AppendUvarint(buf, uint64(len(c.id)))
		buf = append(buf, c.id...)
		buf = binary.AppendVarint(buf, c.lastSeen)
		buf = binary.AppendUvarint(buf, c.floor)
		buf = binary.AppendUvarint(buf, uint64(c.hi-c.lo))
		for _, r := range s.results[c.lo:c.hi] {
			buf = binary.AppendUvarint(buf, r.seq)
			buf = binary.AppendUvarint(buf, uint64(len(r.data)))
			buf = append(buf, r.data...)
		}
		if len(buf) >= 32<<10 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("session: write snapshot: %w", err)
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("session: write snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("session: write snapshot: %w", err)
	}
	if err := s.inner.Persist(sink); err != nil {
		return fmt.Errorf("session: inner snapshot: %w", err)
	}
	return nil
}

// Release releases the inner snapshot.
func (s *snapshot) Release() {
	s.clients, s.results = nil, nil
	s.inner.Release()
}

// Restore reads the session table, then hands the rest of r to the inner
// FSM's Restore. The session table is replaced only if both succeed.
func (f *FSM) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	now, t, err := readTable(br)
	if err != nil {
		return err
	}
	if err := f.inner.Restore(br); err != nil {
		return fmt.Errorf("session: inner restore: %w", err)
	}
	f.now, f.clients = now, t
	return nil
}

func readTable(br *bufio.Reader) (int64, *table, error) {
	bad := func(what string, err error) error {
		if err == nil {
			return fmt.Errorf("%w: %s", ErrBadSnapshot, what)
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: %s: %w", ErrBadSnapshot, what, err)
	}
	var head [5]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return 0, nil, bad("header", err)
	}
	if [4]byte(head[:4]) != snapMagic || head[4] != snapVersion {
		return 0, nil, bad("not a session snapshot (or an unknown version)", nil)
	}
	now, err := binary.ReadVarint(br)
	if err != nil {
		return 0, nil, bad("clock", err)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, nil, bad("session count", err)
	}
	t := newTable()
	for i := uint64(0); i < n; i++ {
		id, err := readBytes(br, MaxClientIDLen)
		if err != nil || len(id) == 0 {
			return 0, nil, bad(fmt.Sprintf("session %d id", i), err)
		}
		if _, dup := t.clients[string(id)]; dup {
			return 0, nil, bad(fmt.Sprintf("session %q appears twice", id), nil)
		}
		seen, err := binary.ReadVarint(br)
		if err != nil {
			return 0, nil, bad("last seen", err)
		}
		floor, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, nil, bad("floor", err)
		}
		c := t.add(string(id), seen, floor)
		nr, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, nil, bad("result count", err)
		}
		c.results = make([]remembered, 0, min(nr, maxSnapPrealloc))
		for j := uint64(0); j < nr; j++ {
			seq, err := binary.ReadUvarint(br)
			if err != nil {
				return 0, nil, bad("result sequence", err)
			}
			if seq < floor || (j > 0 && seq <= c.results[j-1].seq) {
				return 0, nil, bad(fmt.Sprintf("session %q results out of order", id), nil)
			}
			data, err := readBytes(br, maxSnapResult)
			if err != nil {
				return 0, nil, bad("result", err)
			}
			c.results = append(c.results, remembered{seq: seq, data: data})
		}
	}
	return now, t, nil
}

// readBytes reads a uvarint length, at most limit, then that many bytes.
func readBytes(br *bufio.Reader, limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("length %d above limit %d", n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, err
	}
	return b, nil
}
