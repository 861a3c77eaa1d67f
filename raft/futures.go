package raft

import (
	"sync"

	"github.com/mandate-raft/mandate/fsm"
)

// Applied is the outcome of a committed command.
type Applied struct {
	// Index and Term of the command's log entry.
	Index, Term uint64
	// Result is what the FSM returned; Result.Err is the command's own
	// verdict (the command is committed either way).
	Result fsm.Result
}

type outcome struct {
	applied Applied
	err     error
}

// proposal is one Apply call waiting for its outcome. Whoever removes it
// from the registry (under the registry's mutex) delivers its outcome, so
// it is delivered exactly once.
type proposal struct {
	id   uint64
	data []byte
	ch   chan outcome // buffered: delivering never blocks
	// handed reports that the event loop gave the proposal to the core: from
	// then on the command may commit. epoch is the loop's leadership epoch
	// at that moment. Both are guarded by registry.mu.
	handed bool
	epoch  uint64
	// index and term, when index is not 0, identify the log entry the
	// proposal became (membership changes, which carry no proposal ID).
	index, term uint64
}

// proposalPool recycles the proposal records (and their result channels)
// of Apply calls that ended with a delivered outcome, to spare two
// allocations per command.
var proposalPool = sync.Pool{New: func() any { return &proposal{ch: make(chan outcome, 1)} }}

// newProposal returns a proposal for cmd with id, from the pool.
func newProposal(id uint64, cmd []byte) *proposal {
	p := proposalPool.Get().(*proposal)
	p.id, p.data = id, cmd
	return p
}

// release returns p to the pool. Only the caller that received p's
// outcome may call it, and only when p cannot still be in the loop's
// inbox: its outcome was delivered by someone who took p out of the
// registry after the loop took it (or after the loop ended for good). An
// abandoned proposal may still be queued for the loop and is left to the
// garbage collector.
func (p *proposal) release() {
	*p = proposal{ch: p.ch}
	proposalPool.Put(p)
}

// barrier is one Barrier call waiting for a read index to be applied.
type barrier struct {
	id     uint64
	ch     chan error
	handed bool
	epoch  uint64
}

// registry tracks the proposals and barriers this node's callers wait for.
type registry struct {
	mu       sync.Mutex
	props    map[uint64]*proposal
	barriers map[uint64]*barrier
	// byIndex finds the proposals waiting for a known log index.
	byIndex map[uint64]*proposal
	closed  error // once set, nothing new is accepted
}

func newRegistry() *registry {
	return &registry{props: map[uint64]*proposal{}, barriers: map[uint64]*barrier{}, byIndex: map[uint64]*proposal{}}
}

// add registers p, or returns the registry's closing error.
func (r *registry) add(p *proposal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed != nil {
		return r.closed
	}
	r.props[p.id] = p
	return nil
}

// claim marks p as handed to the core in epoch. It returns false when p's
// caller has already given up on it: p must then not be proposed.
func (r *registry) claim(p *proposal, epoch uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.props[p.id] != p {
		return false
	}
	p.handed, p.epoch = true, epoch
	return true
}

// claimAll is claim for a batch under one lock (the event loop claims
// every proposal it hands to the core, so one acquisition per batch keeps
// the lock off the per-proposal path). It appends to claimed the proposals
// still waited for, in order, and returns it.
func (r *registry) claimAll(batch []*proposal, epoch uint64, claimed []*proposal) []*proposal {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range batch {
		if r.props[p.id] != p {
			continue // its caller gave up before the core saw it
		}
		p.handed, p.epoch = true, epoch
		claimed = append(claimed, p)
	}
	return claimed
}

// abandon withdraws p for its caller, whose context ended with cause. It
// returns the outcome to report: not committed if the core never saw p,
// unknown otherwise, or the outcome someone else already delivered.
func (r *registry) abandon(p *proposal, cause error) outcome {
	r.mu.Lock()
	if r.props[p.id] == p {
		r.remove(p)
		handed := p.handed
		r.mu.Unlock()
		if handed {
			return outcome{err: outcomeUnknown(cause)}
		}
		return outcome{err: notCommitted(cause)}
	}
	r.mu.Unlock()
	return <-p.ch
}

// resolve delivers o to the proposal with id, if it still waits.
func (r *registry) resolve(id uint64, o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.props[id]; ok {
		r.remove(p)
		p.ch <- o
	}
}

// resolved is one outcome for resolveAll to deliver.
type resolved struct {
	id uint64
	o  outcome
}

// resolveAll delivers each outcome to its proposal, if it still waits. The
// proposals are taken out of the registry under one lock and woken after
// it is released, so that the callers it wakes do not queue on it.
// taken is scratch space, returned for reuse.
func (r *registry) resolveAll(outs []resolved, taken []*proposal) []*proposal {
	taken = taken[:0]
	r.mu.Lock()
	for _, x := range outs {
		p, ok := r.props[x.id]
		if ok {
			r.remove(p)
		}
		taken = append(taken, p) // nil when no longer waited for
	}
	r.mu.Unlock()
	for i, p := range taken {
		if p != nil {
			// Removed from the registry above, so no one else delivers.
			p.ch <- outs[i].o
		}
	}
	clear(taken)
	return taken[:0]
}

// remove forgets p; the caller holds mu and delivers p's outcome.
func (r *registry) remove(p *proposal) {
	delete(r.props, p.id)
	if p.index != 0 && r.byIndex[p.index] == p {
		delete(r.byIndex, p.index)
	}
}

// awaitIndex records that p became the log entry (index, term).
func (r *registry) awaitIndex(p *proposal, index, term uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.props[p.id] != p {
		return
	}
	p.index, p.term = index, term
	r.byIndex[index] = p
}

// appliedIndex resolves the proposal waiting for index, now that the entry
// (index, term) is applied: committed if it is that proposal's entry, and
// definitely not committed if another entry took its place.
func (r *registry) appliedIndex(index, term uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.byIndex[index]
	if !ok {
		return
	}
	r.remove(p)
	if p.term == term {
		p.ch <- outcome{applied: Applied{Index: index, Term: term}}
	} else {
		p.ch <- outcome{err: notCommitted(ErrLeadershipLost)}
	}
}

// skippedTo ends, as outcome unknown, the waits for log indexes up to
// index that a restored snapshot covered without applying them here.
func (r *registry) skippedTo(index uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.byIndex {
		if i <= index {
			r.remove(p)
			p.ch <- outcome{err: outcomeUnknown(ErrLeadershipLost)}
		}
	}
}

// waitingForIndex reports whether any proposal waits for a log index.
func (r *registry) waitingForIndex() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byIndex) > 0
}

// failHanded delivers an unknown outcome with cause to every proposal and
// barrier handed to the core in an epoch before epoch.
func (r *registry) failHanded(epoch uint64, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.props {
		if p.handed && p.epoch < epoch {
			r.remove(p)
			p.ch <- outcome{err: outcomeUnknown(cause)}
		}
	}
	for id, b := range r.barriers {
		if b.handed && b.epoch < epoch {
			delete(r.barriers, id)
			b.ch <- cause
		}
	}
}

// close refuses new work with cause and ends everything waiting: handed
// proposals with an unknown outcome, the others as not committed.
func (r *registry) close(cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed == nil {
		r.closed = cause
	}
	for _, p := range r.props {
		r.remove(p)
		if p.handed {
			p.ch <- outcome{err: outcomeUnknown(cause)}
		} else {
			p.ch <- outcome{err: notCommitted(cause)}
		}
	}
	for id, b := range r.barriers {
		delete(r.barriers, id)
		b.ch <- cause
	}
}

// addBarrier registers b, or returns the registry's closing error.
func (r *registry) addBarrier(b *barrier) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed != nil {
		return r.closed
	}
	r.barriers[b.id] = b
	return nil
}

// claimBarrier marks b as handed to the core in epoch; false if its
// caller gave up.
func (r *registry) claimBarrier(b *barrier, epoch uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.barriers[b.id] != b {
		return false
	}
	b.handed, b.epoch = true, epoch
	return true
}

// resolveBarrier delivers err to the barrier with id, if it still waits.
func (r *registry) resolveBarrier(id uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.barriers[id]; ok {
		delete(r.barriers, id)
		b.ch <- err
	}
}

// abandonBarrier withdraws b; it returns the error already delivered, if
// any, or cause.
func (r *registry) abandonBarrier(b *barrier, cause error) error {
	r.mu.Lock()
	if r.barriers[b.id] == b {
		delete(r.barriers, b.id)
		r.mu.Unlock()
		return cause
	}
	r.mu.Unlock()
	return <-b.ch
}
