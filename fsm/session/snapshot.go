package session

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

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

type snapshot struct {
	clock    int64 // the session clock, Unix ns
	tick     uint64
	sessions frozen
	inner    fsm.Snapshot
}

// Snapshot freezes the session registry, which copies one pointer per
// chunkSize sessions: records shared with the snapshot are copied by the
// live table before they change (table.own). It then takes the inner FSM's
// snapshot.
func (f *FSM) Snapshot() (fsm.Snapshot, error) {
	inner, err := f.inner.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("session: inner snapshot: %w", err)
	}
	return &snapshot{clock: f.now, tick: f.clients.tick, sessions: f.clients.reg.freeze(), inner: inner}, nil
}

// Persist writes the session table in creation order, then the inner
// snapshot. Each session carries its recency tick, from which Restore
// rebuilds the recency order.
func (s *snapshot) Persist(sink io.Writer) error {
	w := bufio.NewWriterSize(sink, 64<<10)
	var buf []byte
	buf = append(buf, snapMagic[:]...)
	buf = append(buf, snapVersion)
	buf = binary.AppendVarint(buf, s.clock)
	buf = binary.AppendUvarint(buf, s.tick)
	buf = binary.AppendUvarint(buf, uint64(s.sessions.live))
	var werr error
	s.sessions.each(func(c *client) {
		buf = binary.AppendUvarint(buf, uint64(len(c.id)))
		buf = append(buf, c.id...)
		buf = binary.AppendVarint(buf, c.lastSeen)
		buf = binary.AppendUvarint(buf, c.floor)
		buf = binary.AppendUvarint(buf, c.tick)
		buf = binary.AppendUvarint(buf, uint64(len(c.results)))
		for _, r := range c.results {
			buf = binary.AppendUvarint(buf, r.seq)
			buf = binary.AppendUvarint(buf, uint64(len(r.data)))
			buf = append(buf, r.data...)
		}
		if len(buf) >= 32<<10 && werr == nil {
			_, werr = w.Write(buf)
			buf = buf[:0]
		}
	})
	if werr == nil {
		_, werr = w.Write(buf)
	}
	if werr == nil {
		werr = w.Flush()
	}
	if werr != nil {
		return fmt.Errorf("session: write snapshot: %w", werr)
	}
	if err := s.inner.Persist(sink); err != nil {
		return fmt.Errorf("session: inner snapshot: %w", err)
	}
	return nil
}

// Release releases the inner snapshot.
func (s *snapshot) Release() {
	s.sessions = frozen{}
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
	tick, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, nil, bad("tick", err)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, nil, bad("session count", err)
	}
	t := newTable()
	t.tick = tick
	byTick := make([]*client, 0, min(n, maxSnapPrealloc))
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
		ct, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, nil, bad("tick", err)
		}
		if ct == 0 || ct > tick {
			return 0, nil, bad(fmt.Sprintf("session %q tick %d outside 1..%d", id, ct, tick), nil)
		}
		c := &client{id: string(id), lastSeen: seen, floor: floor, tick: ct}
		t.clients[c.id] = c
		t.reg.add(c)
		byTick = append(byTick, c)
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
	// The recency list is the order of the ticks.
	sort.SliceStable(byTick, func(i, j int) bool { return byTick[i].tick < byTick[j].tick })
	for i, c := range byTick {
		if i > 0 && c.tick == byTick[i-1].tick {
			return 0, nil, bad(fmt.Sprintf("sessions %q and %q share tick %d", byTick[i-1].id, c.id, c.tick), nil)
		}
		t.pushNewest(c)
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
