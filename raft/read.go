package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// ReadMode names how fresh a read must be; see Node.Read.
type ReadMode uint8

// The read modes, strongest first.
const (
	// Linearizable reads see every write acknowledged before the read
	// began: ReadIndex, confirmed by a heartbeat round to a quorum.
	Linearizable ReadMode = iota
	// Lease reads are linearizable under Config.LeaseReads' clock
	// assumption, and skip the heartbeat round while the leader's lease
	// holds.
	Lease
	// BoundedStaleness reads may miss recent writes, within the bounds of
	// ReadConsistency.MaxEntries and MaxLag.
	BoundedStaleness
	// Stale reads see whatever this node's FSM has applied.
	Stale
)

// String returns the mode's name.
func (m ReadMode) String() string {
	switch m {
	case Linearizable:
		return "linearizable"
	case Lease:
		return "lease"
	case BoundedStaleness:
		return "bounded-staleness"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("ReadMode(%d)", uint8(m))
}

// ReadConsistency is what a caller of Node.Read asks for. Its zero value
// asks for a linearizable read.
type ReadConsistency struct {
	Mode ReadMode
	// MaxEntries (BoundedStaleness only) bounds how many entries this
	// node's FSM may be behind the leader's commit index as this node last
	// learned it. 0 allows none.
	MaxEntries uint64
	// MaxLag (BoundedStaleness only) bounds how old that knowledge may be:
	// on a follower, how long ago it last heard from its leader; on the
	// leader, how long ago a quorum of voters (itself included) last
	// answered it. 0 means the configured ElectionTimeout.
	MaxLag time.Duration
}

// Bounded returns a BoundedStaleness consistency: at most maxEntries
// behind a leader heard from within maxLag.
func Bounded(maxEntries uint64, maxLag time.Duration) ReadConsistency {
	return ReadConsistency{Mode: BoundedStaleness, MaxEntries: maxEntries, MaxLag: maxLag}
}

// Errors of Read that callers act on.
var (
	// ErrTooStale is wrapped by every *StaleError: this node is further
	// behind than a BoundedStaleness read allows. Read elsewhere (the
	// leader), later, or with a weaker bound.
	ErrTooStale = errors.New("raft: replica too stale for the requested read")
	// ErrLeaseReadsDisabled means a Lease read was asked of a node whose
	// Config.LeaseReads is off. Use Linearizable, or enable lease reads.
	ErrLeaseReadsDisabled = errors.New("raft: lease reads are not enabled (Config.LeaseReads)")
	// ErrInvalidReadMode means ReadConsistency.Mode is not a known mode.
	ErrInvalidReadMode = errors.New("raft: unknown read mode")
)

// StaleError reports how far behind this node is, for a refused
// BoundedStaleness read. errors.Is(err, ErrTooStale) holds.
type StaleError struct {
	// Entries is how many entries the FSM is behind the leader's commit
	// index as this node last learned it.
	Entries uint64
	// Lag is how long ago this node last heard from its leader (from a
	// quorum, on the leader); NeverHeard means it has not heard from a
	// leader of its current term at all.
	Lag        time.Duration
	NeverHeard bool
	// MaxEntries and MaxLag are the bounds that were asked for.
	MaxEntries uint64
	MaxLag     time.Duration
}

// Error says how far behind the node is.
func (e *StaleError) Error() string {
	if e.NeverHeard {
		return fmt.Sprintf("%v: no contact with a leader (or, leading, with a quorum) in the current term", ErrTooStale)
	}
	return fmt.Sprintf("%v: %d entries behind (at most %d allowed), leader last heard %v ago (at most %v allowed)",
		ErrTooStale, e.Entries, e.MaxEntries, e.Lag, e.MaxLag)
}

// Unwrap returns ErrTooStale.
func (e *StaleError) Unwrap() error { return ErrTooStale }

// Read returns once this node's FSM may be read at consistency c: the
// caller then reads its FSM directly (through its own synchronisation,
// as it does for any read concurrent with Apply). It works on every node,
// leader, follower or learner.
//
//   - Linearizable (the zero ReadConsistency): the leader records its
//     commit index and confirms with a heartbeat round that a quorum still
//     follows it (ReadIndex; a follower asks its leader for the index),
//     then Read waits until this node's FSM has applied that index. No log
//     write; no clock assumption. Fails with a *NotLeaderError when no
//     leader is known, ErrLeadershipLost when leadership changes meanwhile,
//     ErrShutdown, or ctx's error: a leader cut off from the quorum never
//     answers, so give ctx a deadline.
//   - Lease: as Linearizable, but the leader skips the heartbeat round
//     while its lease holds (a quorum answered within the last election
//     timeout, less a drift margin), falling back to the round otherwise.
//     Correct only under the clock assumption documented on
//     Config.LeaseReads; refused with ErrLeaseReadsDisabled unless it is
//     set.
//   - BoundedStaleness: answers at once, from local knowledge only, if
//     this node's FSM is at most c.MaxEntries behind the leader's commit
//     index as this node last learned it, and it learned it at most
//     c.MaxLag ago (see ReadConsistency); otherwise a *StaleError
//     (errors.Is(err, ErrTooStale)) says how far behind it is. A
//     partitioned node refuses once MaxLag has passed, but until then it
//     may miss writes committed elsewhere.
//   - Stale: answers at once; the FSM holds whatever it has applied,
//     possibly far behind the cluster, possibly on a node cut off from it.
//
// Read never reorders with this caller's own earlier Apply: an Apply that
// returned nil on this node was applied here before it returned.
func (n *Node) Read(ctx context.Context, c ReadConsistency) error {
	select {
	case <-n.stopc:
		return n.stoppedErr()
	default:
	}
	switch c.Mode {
	case Linearizable:
		return n.readIndex(ctx, true)
	case Lease:
		if !n.cfg.LeaseReads {
			return ErrLeaseReadsDisabled
		}
		return n.readIndex(ctx, false)
	case BoundedStaleness:
		return n.checkStaleness(c)
	case Stale:
		return nil
	}
	return fmt.Errorf("%w: %d", ErrInvalidReadMode, c.Mode)
}

// readIndex asks the core for a read index and waits until the FSM has
// applied it. safe demands a heartbeat round even under a valid lease.
func (n *Node) readIndex(ctx context.Context, safe bool) error {
	b := &barrier{id: n.nextID(), ch: make(chan error, 1)}
	if err := n.props.addBarrier(b); err != nil {
		return err
	}
	start := func() {
		if n.loop.soft.Lead == wire.None {
			n.props.resolveBarrier(b.id, n.notLeader())
			return
		}
		if !n.props.claimBarrier(b, n.loop.epoch) {
			return
		}
		var rctx [8]byte
		binary.BigEndian.PutUint64(rctx[:], b.id)
		if safe {
			n.rn.ReadIndexSafe(rctx[:])
		} else {
			n.rn.ReadIndex(rctx[:])
		}
	}
	if err := n.sendLocal(ctx, start); err != nil {
		return n.props.abandonBarrier(b, err)
	}
	select {
	case err := <-b.ch:
		return err
	case <-ctx.Done():
		return n.props.abandonBarrier(b, ctx.Err())
	}
}

// readOnlyOption is the core's read option for cfg: lease-based when
// Config.LeaseReads allows Lease reads (Linearizable reads then ask the
// core for a heartbeat round explicitly).
func readOnlyOption(cfg Config) core.ReadOnlyOption {
	if cfg.LeaseReads {
		return core.ReadOnlyLeaseBased
	}
	return core.ReadOnlySafe
}
