package raft

import (
	"context"

	"github.com/mandate-raft/mandate/wire"
)

// Apply proposes cmd to the cluster and waits until the outcome is known
// or ctx ends. It works on any node: a follower forwards the proposal to
// the leader (unless Config.DisableForwarding) and returns once its own FSM
// has applied the command. ctx bounds the whole life of the proposal, so
// give it a deadline.
//
// Every call ends in exactly one of three ways:
//
//   - Committed: err is nil and Applied holds the entry's index and term and
//     the FSM's Result (whose Err is the command's own verdict).
//   - Definitely not committed: err is a *NotCommittedError
//     (errors.Is(err, ErrNotCommitted)); retrying is safe. Its Cause is a
//     *NotLeaderError (errors.Is(err, ErrNotLeader); it names the leader to
//     retry at), ErrShutdown, core's proposal-dropped error (a leadership
//     transfer is under way), or ctx's error when ctx ended before the
//     proposal reached Raft.
//   - Outcome unknown: err is an *OutcomeUnknownError
//     (errors.Is(err, ErrOutcomeUnknown)): the command was appended or
//     forwarded, but leadership was lost (ErrLeadershipLost), the node shut
//     down (ErrShutdown) or ctx ended before the commit was known. It may
//     have been committed: retry only idempotent commands.
func (n *Node) Apply(ctx context.Context, cmd []byte) (Applied, error) {
	if err := ctx.Err(); err != nil {
		return Applied{}, notCommitted(err)
	}
	p := newProposal(n.nextID(), cmd)
	if err := n.props.add(p); err != nil {
		return Applied{}, notCommitted(err)
	}
	select {
	case n.propc <- p:
	default:
		// The loop's inbox is full (or the node is stopping): wait for
		// room, ctx or the stop.
		select {
		case n.propc <- p:
		case <-ctx.Done():
			o := n.props.abandon(p, ctx.Err())
			return o.applied, o.err
		case <-n.stopc:
			o := n.props.abandon(p, n.stoppedErr())
			return o.applied, o.err
		}
	}
	select {
	case o := <-p.ch:
		// Delivered by whoever took p out of the registry, after the
		// loop had taken p from propc: nothing else refers to p now.
		p.release()
		return o.applied, o.err
	case <-ctx.Done():
		o := n.props.abandon(p, ctx.Err())
		return o.applied, o.err
	}
}

// Barrier waits until this node's FSM has applied every entry committed
// in the cluster before the call (a linearizable read fence: it confirms
// with a quorum, through the leader, that the commit index it waits for is
// current). It works on any node. It fails with a *NotLeaderError when no
// leader is known, with ErrLeadershipLost when leadership changes
// meanwhile, with ErrShutdown, or with ctx's error; give ctx a deadline.
// It is a Linearizable Read: it never relies on a lease.
func (n *Node) Barrier(ctx context.Context) error {
	return n.readIndex(ctx, true)
}

// Snapshot takes a snapshot of the FSM now, persists it in the snapshot
// store, compacts the log (keeping Config.TrailingLogs entries) and
// returns the snapshot's metadata. If nothing was applied since the newest
// snapshot, it returns that one.
func (n *Node) Snapshot(ctx context.Context) (wire.SnapshotMeta, error) {
	reply := make(chan snapResult, 1)
	select {
	case <-n.stopc:
		return wire.SnapshotMeta{}, n.stoppedErr()
	default:
	}
	n.applyQ.push(applyItem{snapReq: reply})
	select {
	case r := <-reply:
		return r.meta, r.err
	case <-ctx.Done():
		return wire.SnapshotMeta{}, ctx.Err()
	case <-n.stopc:
		return wire.SnapshotMeta{}, n.stoppedErr()
	}
}

// TransferLeadership asks the leader to hand its leadership to id. It
// returns once the request is handed to the core; watch Leader or an
// observer for the outcome.
func (n *Node) TransferLeadership(ctx context.Context, id wire.NodeID) error {
	return n.sendLocal(ctx, func() { n.rn.TransferLeader(id) })
}

// Campaign makes this node start an election now (useful in tests and to
// speed up a single-node start).
func (n *Node) Campaign(ctx context.Context) error {
	return n.sendLocal(ctx, func() {
		if err := n.rn.Campaign(); err != nil {
			n.log.Debug("campaign refused", "error", err)
		}
	})
}
