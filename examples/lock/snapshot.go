package lock

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/mandate-raft/mandate/fsm"
)

// A lock snapshot: magic, version, the clock, the lock count, then each
// lock in name order: name, holder, token, expiry, and its waiters (owner,
// ttl, deadline). Strings are uvarint length + bytes; times are varint
// Unix ns. The expiry queue is rebuilt on restore: stale entries never
// change a decision, so the rebuilt queue decides exactly as the old one.
var snapMagic = [4]byte{0xc1, 'L', 'C', 'K'}

const snapVersion = 1

type snapLock struct {
	name string
	e    entry
}

type snapshot struct {
	now   int64
	locks []snapLock
}

// Snapshot copies the lock table (O(locks + waiters)).
func (s *state) Snapshot() (fsm.Snapshot, error) {
	snap := &snapshot{now: s.now, locks: make([]snapLock, 0, len(s.locks))}
	for name, e := range s.locks {
		c := *e
		c.waiters = append([]waiter(nil), e.waiters...)
		snap.locks = append(snap.locks, snapLock{name: name, e: c})
	}
	sort.Slice(snap.locks, func(i, j int) bool { return snap.locks[i].name < snap.locks[j].name })
	return snap, nil
}

// Persist writes the copied table to sink.
func (s *snapshot) Persist(sink io.Writer) error {
	b := append([]byte(nil), snapMagic[:]...)
	b = append(b, snapVersion)
	b = binary.AppendVarint(b, s.now)
	b = binary.AppendUvarint(b, uint64(len(s.locks)))
	for _, l := range s.locks {
		b = appendString(b, l.name)
		b = appendString(b, l.e.holder)
		b = binary.AppendUvarint(b, l.e.token)
		b = binary.AppendVarint(b, l.e.expiry)
		b = binary.AppendUvarint(b, uint64(len(l.e.waiters)))
		for _, w := range l.e.waiters {
			b = appendString(b, w.owner)
			b = binary.AppendVarint(b, w.ttl)
			b = binary.AppendVarint(b, w.deadline)
		}
	}
	if _, err := sink.Write(b); err != nil {
		return fmt.Errorf("lock: write snapshot: %w", err)
	}
	return nil
}

// Release drops the copy.
func (s *snapshot) Release() { s.locks = nil }

// Restore replaces the table with the snapshot in r.
func (s *state) Restore(r io.Reader) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	bad := func(what string, err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadSnapshot, what, err)
		}
		return fmt.Errorf("%w: %s", ErrBadSnapshot, what)
	}
	var head [5]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return bad("header", err)
	}
	if [4]byte(head[:4]) != snapMagic || head[4] != snapVersion {
		return bad("not a lock snapshot (or an unknown version)", nil)
	}
	now, err := binary.ReadVarint(br)
	if err != nil {
		return bad("clock", err)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return bad("lock count", err)
	}
	next := &state{now: now, locks: map[string]*entry{}}
	prev := ""
	for i := uint64(0); i < n; i++ {
		name, err := readString(br)
		if err != nil {
			return bad("name", err)
		}
		if i > 0 && name <= prev {
			return bad(fmt.Sprintf("lock %q out of order", name), nil)
		}
		prev = name
		e := &entry{}
		if e.holder, err = readString(br); err != nil {
			return bad("holder", err)
		}
		if e.token, err = binary.ReadUvarint(br); err != nil {
			return bad("token", err)
		}
		if e.expiry, err = binary.ReadVarint(br); err != nil {
			return bad("expiry", err)
		}
		nw, err := binary.ReadUvarint(br)
		if err != nil || nw > MaxWaiters {
			return bad("waiter count", err)
		}
		if e.holder == "" || e.expiry <= now {
			return bad(fmt.Sprintf("lock %q is free or expired but listed", name), nil)
		}
		for j := uint64(0); j < nw; j++ {
			var w waiter
			if w.owner, err = readString(br); err != nil {
				return bad("waiter", err)
			}
			if w.ttl, err = binary.ReadVarint(br); err != nil {
				return bad("waiter ttl", err)
			}
			if w.deadline, err = binary.ReadVarint(br); err != nil {
				return bad("waiter deadline", err)
			}
			if w.owner == "" || w.ttl <= 0 || w.ttl > int64(MaxTTL) {
				return bad(fmt.Sprintf("lock %q has a malformed waiter", name), nil)
			}
			e.waiters = append(e.waiters, w)
		}
		next.locks[name] = e
		next.due.add(due{at: e.expiry, name: name, token: e.token})
	}
	s.now, s.locks, s.due = next.now, next.locks, next.due
	return nil
}

func readString(br *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return "", err
	}
	if n > MaxNameLen {
		return "", fmt.Errorf("string of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", err
	}
	return string(b), nil
}
