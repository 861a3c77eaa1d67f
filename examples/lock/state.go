package lock

import (
	"fmt"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

type waiter struct {
	owner    string
	ttl      int64 // ns
	deadline int64 // Unix ns
}

// entry is one lock.
//
// Invariant: holder == "" implies waiters is empty (a freed lock passes at
// once to the first live waiter), and an entry with neither is deleted.
type entry struct {
	holder  string
	token   uint64
	expiry  int64 // Unix ns
	waiters []waiter
}

// state is the lock table, without locking or sessions.
type state struct {
	now   int64 // largest command time seen, Unix ns
	locks map[string]*entry
	due   dueQueue
	resultCodec
}

var _ fsm.BatchFSM = (*state)(nil)

func newState() *state { return &state{locks: map[string]*entry{}} }

// Lease describes a lock as a command left it, or as Show sees it.
type Lease struct {
	Name   string
	Holder string // empty: free
	Token  uint64
	Expiry time.Time
	// Queued is set when an Acquire queued its owner rather than granting;
	// Position (1 = next) and Deadline describe the owner's place.
	Queued   bool
	Position int
	Deadline time.Time
	// Waiters is how many owners wait (Show only).
	Waiters int
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (s *state) lease(name string, e *entry) Lease {
	if e == nil {
		return Lease{Name: name}
	}
	return Lease{Name: name, Holder: e.holder, Token: e.token, Expiry: unixTime(e.expiry), Waiters: len(e.waiters)}
}

// advance moves the clock to t if later, then expires every lease due,
// handing freed locks to their waiters with index as the new token.
func (s *state) advance(t time.Time, index uint64) {
	if !t.IsZero() && t.UnixNano() > s.now {
		s.now = t.UnixNano()
	}
	for {
		d, ok := s.due.popDue(s.now)
		if !ok {
			return
		}
		e := s.locks[d.name]
		if e == nil || e.holder == "" || e.token != d.token || e.expiry != d.at {
			continue // stale: renewed, released or regranted since
		}
		e.holder = ""
		s.grantNext(d.name, e, index)
	}
}

// grantNext gives a free lock to its first waiter whose deadline has not
// passed, dropping those whose has, or deletes the lock if none is left.
func (s *state) grantNext(name string, e *entry, index uint64) {
	for len(e.waiters) > 0 {
		w := e.waiters[0]
		e.waiters = e.waiters[1:]
		if w.deadline >= s.now {
			s.grant(name, e, w.owner, w.ttl, index)
			break
		}
	}
	if len(e.waiters) == 0 {
		e.waiters = nil // let the queue's array go
	}
	if e.holder == "" {
		delete(s.locks, name)
	}
}

func (s *state) grant(name string, e *entry, owner string, ttl int64, index uint64) {
	e.holder, e.token, e.expiry = owner, index, s.now+ttl
	s.due.add(due{at: e.expiry, name: name, token: index})
}

// Apply applies one lock command.
func (s *state) Apply(cmd fsm.Command) fsm.Result {
	s.advance(cmd.Time, cmd.Index)
	c, err := DecodeCommand(cmd.Data)
	if err != nil {
		return fsm.Result{Err: err}
	}
	var l Lease
	switch c := c.(type) {
	case Acquire:
		l, err = s.acquire(c, cmd.Index)
	case Renew:
		l, err = s.renew(c)
	case Release:
		l, err = s.release(c, cmd.Index)
	}
	if err != nil {
		return fsm.Result{Err: err}
	}
	return fsm.Result{Value: l}
}

// ApplyBatch applies cmds in order.
func (s *state) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	out := make([]fsm.Result, len(cmds))
	for i, c := range cmds {
		out[i] = s.Apply(c)
	}
	return out
}

func (s *state) acquire(a Acquire, index uint64) (Lease, error) {
	if err := validName("name", a.Name); err != nil {
		return Lease{}, err
	}
	if err := validName("owner", a.Owner); err != nil {
		return Lease{}, err
	}
	if err := validTTL(a.TTL); err != nil {
		return Lease{}, err
	}
	if err := validWait(a.Wait); err != nil {
		return Lease{}, err
	}
	e := s.locks[a.Name]
	if e == nil {
		e = &entry{}
		s.locks[a.Name] = e
		s.grant(a.Name, e, a.Owner, int64(a.TTL), index)
		return s.lease(a.Name, e), nil
	}
	if e.holder == a.Owner {
		return s.lease(a.Name, e), nil // a retry: the lease as it is
	}
	// Drop waiters whose deadline passed, keeping the order of the rest.
	live := e.waiters[:0]
	for _, w := range e.waiters {
		if w.deadline >= s.now {
			live = append(live, w)
		}
	}
	clear(e.waiters[len(live):])
	e.waiters = live
	for i, w := range e.waiters {
		if w.owner == a.Owner {
			l := s.lease(a.Name, e)
			l.Queued, l.Position, l.Deadline = true, i+1, unixTime(w.deadline)
			return l, nil
		}
	}
	if a.Wait == 0 {
		return Lease{}, fmt.Errorf("%w: %q is held by %q until %v", ErrLockHeld, a.Name, e.holder, unixTime(e.expiry))
	}
	if len(e.waiters) >= MaxWaiters {
		return Lease{}, fmt.Errorf("%w: %q has %d waiters", ErrQueueFull, a.Name, len(e.waiters))
	}
	w := waiter{owner: a.Owner, ttl: int64(a.TTL), deadline: s.now + int64(a.Wait)}
	e.waiters = append(e.waiters, w)
	l := s.lease(a.Name, e)
	l.Queued, l.Position, l.Deadline = true, len(e.waiters), unixTime(w.deadline)
	return l, nil
}

// held returns the lock if owner holds it under token.
func (s *state) held(name, owner string, token uint64) (*entry, error) {
	if err := validName("name", name); err != nil {
		return nil, err
	}
	if err := validName("owner", owner); err != nil {
		return nil, err
	}
	e := s.locks[name]
	if e == nil || e.holder != owner {
		return nil, fmt.Errorf("%w: %q does not hold %q", ErrNotHolder, owner, name)
	}
	if e.token != token {
		return nil, fmt.Errorf("%w: %q holds %q under token %d, not %d", ErrWrongToken, owner, name, e.token, token)
	}
	return e, nil
}

func (s *state) renew(r Renew) (Lease, error) {
	if err := validTTL(r.TTL); err != nil {
		return Lease{}, err
	}
	e, err := s.held(r.Name, r.Owner, r.Token)
	if err != nil {
		return Lease{}, err
	}
	e.expiry = s.now + int64(r.TTL)
	s.due.add(due{at: e.expiry, name: r.Name, token: e.token})
	return s.lease(r.Name, e), nil
}

func (s *state) release(r Release, index uint64) (Lease, error) {
	e, err := s.held(r.Name, r.Owner, r.Token)
	if err != nil {
		return Lease{}, err
	}
	e.holder = ""
	s.grantNext(r.Name, e, index)
	return s.lease(r.Name, s.locks[r.Name]), nil
}
