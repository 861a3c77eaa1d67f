package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/raft"
	"github.com/mandate-raft/mandate/wire"
)

// RaftReplica adapts a *raft.Node to the Replica the API drives: it maps
// the runtime's errors onto the API's sentinels and counts leader changes
// for the metrics.
type RaftReplica struct {
	node *raft.Node

	leaderChanges atomic.Uint64
	unobserve     func()
	stopc         chan struct{}
	wg            sync.WaitGroup
}

// NewRaftReplica wraps node. Call Close when done with it (before or
// after the node's Shutdown).
func NewRaftReplica(node *raft.Node) *RaftReplica {
	r := &RaftReplica{node: node, stopc: make(chan struct{})}
	ch := make(chan raft.LeaderChange, 64)
	r.unobserve = node.Observe(ch)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var last wire.NodeID
		for {
			select {
			case lc := <-ch:
				if lc.Leader != last {
					last = lc.Leader
					r.leaderChanges.Add(1)
				}
			case <-r.stopc:
				return
			}
		}
	}()
	return r
}

// Close stops observing the node.
func (r *RaftReplica) Close() {
	r.unobserve()
	close(r.stopc)
	r.wg.Wait()
}

// Node returns the wrapped node.
func (r *RaftReplica) Node() *raft.Node { return r.node }

// Apply implements Replica.
func (r *RaftReplica) Apply(ctx context.Context, cmd []byte) (Applied, error) {
	a, err := r.node.Apply(ctx, cmd)
	if err != nil {
		return Applied{}, mapApplyError(err)
	}
	return Applied{Index: a.Index, Term: a.Term, Result: a.Result}, nil
}

// mapApplyError classifies a raft.Node.Apply error.
func mapApplyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrOutcomeUnknown):
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	case errors.Is(err, raft.ErrNotCommitted):
		return fmt.Errorf("%w: %w", ErrNotCommitted, err)
	case errors.Is(err, raft.ErrShutdown):
		return fmt.Errorf("%w: %w", ErrNotCommitted, err)
	}
	return err
}

// ReadBarrier implements Replica with raft.Node.Read: a linearizable read
// confirms the commit index with a quorum through the leader (ReadIndex)
// and waits until the local FSM applied it; a bounded read checks this
// node's own lag.
func (r *RaftReplica) ReadBarrier(ctx context.Context, l ReadLevel) error {
	c := raft.ReadConsistency{}
	if l.Bounded {
		c = raft.Bounded(l.MaxEntries, l.MaxLag)
	}
	err := r.node.Read(ctx, c)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrTooStale):
		return fmt.Errorf("%w: %w", ErrTooStale, err)
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// Status implements Replica.
func (r *RaftReplica) Status() ReplicaStatus {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := r.node.Stats(ctx)
	if err != nil {
		// Stopped or too busy to answer: report what is published without
		// the event loop.
		lead, addr := r.node.Leader()
		state := r.node.State()
		return ReplicaStatus{ID: r.node.ID(), State: state.String(), Leader: lead, LeaderAddress: addr,
			LeaderChanges: r.leaderChanges.Load(), Stopped: state == raft.Shutdown}
	}
	return ReplicaStatus{
		ID: st.ID, State: st.State.String(), Term: st.Term,
		Leader: st.Leader, LeaderAddress: st.LeaderAddress,
		Commit: st.Commit, Applied: st.Applied, LastIndex: st.LastIndex,
		Config: st.Config, LeaderChanges: r.leaderChanges.Load(),
		Stopped: st.State == raft.Shutdown, AwaitingFounders: st.AwaitingFounders,
	}
}

// AddServer implements Replica on the leader. A voter is added as a
// learner first and promoted once it has caught up with the leader's log,
// so that the cluster's commit quorum never waits for a member that is
// still copying the log. On a follower it answers 421 not_leader.
func (r *RaftReplica) AddServer(ctx context.Context, s wire.Server) error {
	st, err := r.leaderStats(ctx, "membership changes")
	if err != nil {
		return err
	}
	if cur, ok := st.Config.Server(s.ID); ok {
		if cur.Role == s.Role && cur.Address == s.Address {
			return nil // already there: a retried join
		}
		if !(cur.Role == wire.Learner && s.Role == wire.Voter && cur.Address == s.Address) {
			return fmt.Errorf("%w: %q is already a %s at %s", ErrMembershipConflict, s.ID, cur.Role, cur.Address)
		}
	} else if err := whenSettled(ctx, func() error { return r.node.AddLearner(ctx, s.ID, s.Address) }); err != nil {
		return mapMembershipError(err)
	}
	if s.Role == wire.Learner {
		return nil
	}
	if err := r.waitCaughtUp(ctx, s.ID); err != nil {
		return fmt.Errorf("%w: %q was added as a learner but has not caught up to be promoted (retry the add to promote it): %w",
			ErrUnavailable, s.ID, err)
	}
	return mapMembershipError(whenSettled(ctx, func() error { return r.node.AddVoter(ctx, s.ID, s.Address) }))
}

// waitCaughtUp waits until the learner id has replicated everything the
// leader had committed when the wait began.
func (r *RaftReplica) waitCaughtUp(ctx context.Context, id wire.NodeID) error {
	st, err := r.node.Stats(ctx)
	if err != nil {
		return err
	}
	target := st.Commit
	for {
		st, err := r.node.Stats(ctx)
		if err != nil {
			return err
		}
		if p, ok := st.Progress[id]; ok && p.Match >= target {
			return nil
		}
		if st.State != raft.Leader {
			return fmt.Errorf("%w: leadership moved to %q", ErrNoLeader, st.Leader)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RemoveServer implements Replica on the leader.
func (r *RaftReplica) RemoveServer(ctx context.Context, id wire.NodeID) error {
	st, err := r.leaderStats(ctx, "membership changes")
	if err != nil {
		return err
	}
	if _, ok := st.Config.Server(id); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownMember, id)
	}
	return mapMembershipError(whenSettled(ctx, func() error { return r.node.RemoveServer(ctx, id) }))
}

// whenSettled runs a membership change, retrying it while the previous
// change is still being committed (the runtime refuses a change until
// then, and the refusal means nothing was proposed), until ctx ends.
func whenSettled(ctx context.Context, change func() error) error {
	for {
		err := change()
		if !errors.Is(err, raft.ErrMembershipChangePending) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// leaderStats returns the node's stats when it leads, and otherwise an
// error sending the caller to the leader.
func (r *RaftReplica) leaderStats(ctx context.Context, what string) (raft.Stats, error) {
	st, err := r.node.Stats(ctx)
	if err != nil {
		return st, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if st.Leader == wire.None {
		return st, fmt.Errorf("%w: %s need a leader", ErrNoLeader, what)
	}
	if st.State != raft.Leader {
		return st, &apiError{status: http.StatusMisdirectedRequest, code: client.CodeNotLeader,
			message: fmt.Sprintf("%s are served by the leader, %q (raft address %s); this node is %q",
				what, st.Leader, st.LeaderAddress, st.ID)}
	}
	return st, nil
}

// mapMembershipError classifies a membership change's error.
func mapMembershipError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrOutcomeUnknown):
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	case errors.Is(err, raft.ErrInvalidMembershipChange):
		return fmt.Errorf("%w: %w", ErrMembershipConflict, err)
	case errors.Is(err, raft.ErrMembershipChangePending), errors.Is(err, raft.ErrProposalDropped):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return mapApplyError(err)
}

// TransferLeadership implements Replica on the leader: it picks a target
// when none is given (the most up-to-date other voter), asks the core and
// waits until a leader other than the old one is known. On a follower it
// answers 421 not_leader naming the leader.
func (r *RaftReplica) TransferLeadership(ctx context.Context, to wire.NodeID) (wire.NodeID, error) {
	st, err := r.leaderStats(ctx, "leadership transfers")
	if err != nil {
		return wire.None, err
	}
	if to != wire.None {
		if !st.Config.IsVoter(to) {
			if _, ok := st.Config.Server(to); !ok {
				return wire.None, fmt.Errorf("%w: %q", ErrUnknownMember, to)
			}
			return wire.None, &apiError{status: http.StatusBadRequest, code: client.CodeInvalidArgument,
				message: fmt.Sprintf("%q is a learner; only a voter can lead", to)}
		}
		if to == st.Leader {
			return to, nil // already there
		}
	} else {
		to = pickTransferee(st)
		if to == wire.None {
			return wire.None, fmt.Errorf("%w: no other voter to hand leadership to", ErrMembershipConflict)
		}
	}
	old := st.Leader
	if err := r.node.TransferLeadership(ctx, to); err != nil {
		return wire.None, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for {
		if lead, _ := r.node.Leader(); lead != wire.None && lead != old {
			return lead, nil
		}
		select {
		case <-ctx.Done():
			return wire.None, fmt.Errorf("%w: leadership did not move from %q to %q in time: %w", ErrUnavailable, old, to, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func pickTransferee(st raft.Stats) wire.NodeID {
	best, bestMatch := wire.None, uint64(0)
	for _, id := range st.Config.Voters() {
		if id == st.Leader {
			continue
		}
		match := uint64(0)
		if p, ok := st.Progress[id]; ok {
			match = p.Match
		}
		if best == wire.None || match > bestMatch {
			best, bestMatch = id, match
		}
	}
	return best
}

// Snapshot implements Replica.
func (r *RaftReplica) Snapshot(ctx context.Context) (wire.SnapshotMeta, error) {
	meta, err := r.node.Snapshot(ctx)
	switch {
	case err == nil:
		return meta, nil
	case errors.Is(err, raft.ErrNothingToSnapshot):
		return meta, &apiError{status: http.StatusConflict, code: client.CodeNothingToSnapshot, message: err.Error()}
	case errors.Is(err, raft.ErrShutdown):
		return meta, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return meta, err
}
