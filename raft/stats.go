package raft

import (
	"context"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// State is a node's role in the cluster.
type State uint8

// The roles a node can have.
const (
	Follower State = iota
	Candidate
	Leader
	PreCandidate
	// Shutdown is the role of a node that has stopped.
	Shutdown
)

// String returns the role's name.
func (s State) String() string {
	switch s {
	case Follower:
		return "Follower"
	case Candidate:
		return "Candidate"
	case Leader:
		return "Leader"
	case PreCandidate:
		return "PreCandidate"
	case Shutdown:
		return "Shutdown"
	}
	return "State(?)"
}

func stateOf(s core.StateType) State {
	switch s {
	case core.StateCandidate:
		return Candidate
	case core.StateLeader:
		return Leader
	case core.StatePreCandidate:
		return PreCandidate
	}
	return Follower
}

// State returns this node's current role.
func (n *Node) State() State {
	select {
	case <-n.stopc:
		return Shutdown
	default:
	}
	return stateOf(core.StateType(n.pub.state.Load()))
}

// Leader returns the ID and address of the leader this node knows of, or
// wire.None and "" when it knows none.
func (n *Node) Leader() (wire.NodeID, string) {
	p := n.pub.leader.Load()
	if p == nil || *p == wire.None {
		return wire.None, ""
	}
	return *p, n.addressOf(*p)
}

// PeerProgress is the leader's view of one follower's replication.
type PeerProgress struct {
	// Match is the highest index known to be replicated on the follower;
	// Next the next index the leader will send it.
	Match, Next uint64
	// State is "probe", "replicate" or "snapshot".
	State string
	// RecentActive reports whether the follower answered within the last
	// election timeout.
	RecentActive bool
	// Inflight is the number of append messages awaiting an answer.
	Inflight int
	// Learner reports a non-voting member.
	Learner bool
}

// Stats is a point-in-time view of a node.
type Stats struct {
	ID            wire.NodeID
	State         State
	Term          uint64
	Vote          wire.NodeID
	Leader        wire.NodeID
	LeaderAddress string
	// Commit is the highest index known committed; Applied the highest the
	// FSM applied; LastIndex the last in the log (durable or not);
	// StableIndex the last durable one.
	Commit, Applied, LastIndex, StableIndex uint64
	// FirstIndex is the first entry still in the log; SnapshotIndex the
	// index of the newest snapshot.
	FirstIndex, SnapshotIndex uint64
	// Config is the newest configuration in the log.
	Config wire.Configuration
	// Progress is the replication progress of each member, on the leader
	// only.
	Progress map[wire.NodeID]PeerProgress
	// PendingWrites and PendingApplies are the log entries queued for the
	// storage and apply stages; past a bound (65536) the node stops taking
	// proposals until they drain.
	PendingWrites, PendingApplies int64
	// AwaitingFounders lists the founding voters a Bootstrap on blank
	// stores is still waiting to hear from before it writes the founding
	// configuration (see Node.Bootstrap); empty otherwise.
	AwaitingFounders []wire.NodeID
}

// Stats returns a snapshot of the node's state, taken on the event loop.
func (n *Node) Stats(ctx context.Context) (Stats, error) {
	type loopView struct {
		st       core.Status
		founders []wire.NodeID
	}
	ch := make(chan loopView, 1)
	if err := n.sendLocal(ctx, func() {
		v := loopView{st: n.rn.Status()}
		if f := n.loop.founding; f != nil {
			v.founders = f.pending()
		}
		ch <- v
	}); err != nil {
		return Stats{}, err
	}
	var v loopView
	select {
	case v = <-ch:
	case <-ctx.Done():
		return Stats{}, ctx.Err()
	case <-n.stopc:
		return Stats{}, n.stoppedErr()
	}
	st := v.st
	s := Stats{
		ID:               n.id,
		State:            stateOf(st.SoftState.State),
		Term:             st.HardState.Term,
		Vote:             st.HardState.Vote,
		Leader:           st.SoftState.Lead,
		LeaderAddress:    n.addressOf(st.SoftState.Lead),
		Commit:           st.HardState.Commit,
		Applied:          n.pub.applied.Load(),
		LastIndex:        st.LastIndex,
		StableIndex:      st.StableIndex,
		FirstIndex:       n.storage.FirstIndex(),
		SnapshotIndex:    n.storage.Snapshot().Index,
		Config:           st.Config.Clone(),
		PendingWrites:    n.persistBacklog.Load(),
		PendingApplies:   n.applyBacklog.Load(),
		AwaitingFounders: v.founders,
	}
	if st.Progress != nil {
		s.Progress = make(map[wire.NodeID]PeerProgress, len(st.Progress))
		for id, p := range st.Progress {
			s.Progress[id] = PeerProgress{
				Match: p.Match, Next: p.Next, State: progressState(p.State),
				RecentActive: p.RecentActive, Inflight: p.Inflight, Learner: p.IsLearner,
			}
		}
	}
	return s, nil
}

func progressState(s core.ProgressState) string {
	switch s {
	case core.ProgressReplicate:
		return "replicate"
	case core.ProgressSnapshot:
		return "snapshot"
	}
	return "probe"
}

// LeaderChange is what observers are told when the known leader or this
// node's role changes.
type LeaderChange struct {
	Term          uint64
	Leader        wire.NodeID
	LeaderAddress string
	// State is this node's role after the change.
	State State
}

// Observe registers ch to receive a LeaderChange each time the known
// leader or this node's role changes. Delivery never blocks the node: when
// ch is full the event is dropped, so give ch a buffer and read it
// promptly. The returned function unregisters ch; the node never closes
// it.
func (n *Node) Observe(ch chan<- LeaderChange) (unregister func()) {
	n.obsMu.Lock()
	defer n.obsMu.Unlock()
	id := n.obsNext
	n.obsNext++
	n.observers[id] = ch
	return func() {
		n.obsMu.Lock()
		defer n.obsMu.Unlock()
		delete(n.observers, id)
	}
}

func (n *Node) notifyObservers(lc LeaderChange) {
	n.obsMu.Lock()
	defer n.obsMu.Unlock()
	for _, ch := range n.observers {
		select {
		case ch <- lc:
		default:
		}
	}
}
