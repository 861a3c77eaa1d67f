package raft

import (
	"context"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// Errors of the core that callers act on, re-exported because the core's
// package is internal.
var (
	// ErrProposalDropped means the leader refused a proposal (a leadership
	// transfer is under way). It is safe to retry later.
	ErrProposalDropped = core.ErrProposalDropped
	// ErrMembershipChangePending means a membership change was refused
	// because another one is not yet committed, or the leader has not yet
	// committed an entry of its own term. Retry shortly.
	ErrMembershipChangePending = core.ErrConfChangePending
	// ErrInvalidMembershipChange means the change makes no sense against
	// the current configuration (adding a present server, removing an
	// absent one, removing the last voter, ...).
	ErrInvalidMembershipChange = core.ErrInvalidConfChange
)

// AddLearner adds a non-voting member that receives the log; promote it
// with AddVoter once it has caught up. See changeMembership for results.
func (n *Node) AddLearner(ctx context.Context, id wire.NodeID, address string) error {
	return n.changeMembership(ctx, core.ConfChange{Op: core.AddLearner, ID: id, Address: address})
}

// AddVoter adds a voting member, or promotes a learner. Adding a learner
// first and promoting it once caught up keeps the cluster's commit latency
// steady while the new member copies the log.
func (n *Node) AddVoter(ctx context.Context, id wire.NodeID, address string) error {
	return n.changeMembership(ctx, core.ConfChange{Op: core.AddVoter, ID: id, Address: address})
}

// DemoteVoter turns a voter into a learner.
func (n *Node) DemoteVoter(ctx context.Context, id wire.NodeID) error {
	return n.changeMembership(ctx, core.ConfChange{Op: core.DemoteVoter, ID: id})
}

// RemoveServer removes a member of either role. Removing the leader makes
// it hand over to another voter once the change commits.
func (n *Node) RemoveServer(ctx context.Context, id wire.NodeID) error {
	return n.changeMembership(ctx, core.ConfChange{Op: core.RemoveServer, ID: id})
}

// changeMembership proposes cc on this node, which must be the leader, and
// waits until the new configuration is committed and applied here. Changes
// go one server at a time. Errors have the kinds Apply documents: a
// *NotCommittedError (caused by a *NotLeaderError,
// ErrMembershipChangePending, ErrInvalidMembershipChange,
// ErrProposalDropped, ErrShutdown or ctx) is safe to retry; an
// *OutcomeUnknownError means the change may or may not take effect (check
// Stats().Config).
func (n *Node) changeMembership(ctx context.Context, cc core.ConfChange) error {
	if err := ctx.Err(); err != nil {
		return notCommitted(err)
	}
	p := &proposal{id: n.nextID(), ch: make(chan outcome, 1)}
	if err := n.props.add(p); err != nil {
		return notCommitted(err)
	}
	start := func() {
		if n.loop.soft.State != core.StateLeader {
			n.props.resolve(p.id, outcome{err: notCommitted(n.notLeader())})
			return
		}
		if !n.props.claim(p, n.loop.epoch) {
			return
		}
		if err := n.rn.ProposeConfChange(cc); err != nil {
			n.props.resolve(p.id, outcome{err: notCommitted(err)})
			return
		}
		st := n.rn.Status()
		n.props.awaitIndex(p, st.LastIndex, st.HardState.Term)
	}
	if err := n.sendLocal(ctx, start); err != nil {
		return n.props.abandon(p, err).err
	}
	select {
	case o := <-p.ch:
		return o.err
	case <-ctx.Done():
		return n.props.abandon(p, ctx.Err()).err
	}
}

// SetPeers tells the transport where other servers are, before this node
// has a configuration naming them. A node joining a running cluster calls
// it with the cluster's current members (as the leader reports them) so
// that it can answer the leader's first messages; the addresses in the
// node's own configuration replace these once it has one.
func (n *Node) SetPeers(ctx context.Context, servers ...wire.Server) error {
	return n.sendLocal(ctx, func() { n.addPeers(servers) })
}
