package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/wire"
)

// Replica is what the HTTP API needs from a Raft node. The daemon adapts a
// raft.Node to it; tests use a fake. Implementations are safe for
// concurrent use.
//
// Errors are classified with the sentinels below (errors.Is), which is how
// the API chooses between "retry safely", "outcome unknown" and "your
// request is wrong".
type Replica interface {
	// Apply proposes cmd (on any node: followers forward to the leader) and
	// returns once this node's FSM applied it, with the FSM's result.
	// Errors wrap ErrNoLeader or ErrNotCommitted (safe to retry) or
	// ErrOutcomeUnknown.
	Apply(ctx context.Context, cmd []byte) (Applied, error)
	// ReadBarrier returns once this node's FSM may be read at level l.
	// For a linearizable read (the zero ReadLevel) that is once it
	// reflects every write committed before the call. It errors (wrapping
	// ErrNoLeader, ErrUnavailable or ErrTooStale) when that cannot be
	// confirmed.
	ReadBarrier(ctx context.Context, l ReadLevel) error
	// Status describes the node now.
	Status() ReplicaStatus
	// AddServer adds s to the configuration (one server at a time).
	AddServer(ctx context.Context, s wire.Server) error
	// RemoveServer removes id from the configuration.
	RemoveServer(ctx context.Context, id wire.NodeID) error
	// TransferLeadership hands leadership to `to` (the runtime's choice
	// when None) and returns the leader once the transfer is done.
	TransferLeadership(ctx context.Context, to wire.NodeID) (wire.NodeID, error)
	// Snapshot takes a snapshot of this node's FSM now.
	Snapshot(ctx context.Context) (wire.SnapshotMeta, error)
}

// ReadLevel says how fresh a read must be. The zero value asks for a
// linearizable read.
type ReadLevel struct {
	// Bounded accepts a replica at most MaxEntries behind the leader's
	// commit index as this node last learned it, learned at most MaxLag ago
	// (0: the election timeout), answered from local knowledge without a
	// round trip.
	Bounded    bool
	MaxEntries uint64
	MaxLag     time.Duration
}

// Applied is a committed command's position in the log and its result.
type Applied struct {
	Index, Term uint64
	Result      fsm.Result
}

// ReplicaStatus is a Replica's view of itself and of the cluster.
type ReplicaStatus struct {
	ID wire.NodeID
	// State is the Raft role's name (Leader, Follower, Candidate,
	// PreCandidate) or "Shutdown".
	State                      string
	Term                       uint64
	Leader                     wire.NodeID
	LeaderAddress              string
	Commit, Applied, LastIndex uint64
	Config                     wire.Configuration
	LeaderChanges              uint64
	Stopped                    bool
	// AwaitingFounders lists the founding members a first start with
	// bootstrap still waits to hear from before the cluster forms.
	AwaitingFounders []wire.NodeID
}

// Errors a Replica wraps so that the API can tell its callers what to do.
var (
	// ErrNoLeader: no leader is known or reachable; nothing was committed.
	ErrNoLeader = errors.New("no leader")
	// ErrNotCommitted: the command was definitely not committed.
	ErrNotCommitted = errors.New("not committed")
	// ErrOutcomeUnknown: the command may or may not have been committed.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrTooStale: the replica is further behind than a bounded read
	// allows; read elsewhere or later.
	ErrTooStale = errors.New("replica too stale")
	// ErrUnavailable: the node cannot serve the request now.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnsupported: the runtime does not offer this feature.
	ErrUnsupported = errors.New("not supported by this runtime")
	// ErrUnknownMember: no such server in the configuration.
	ErrUnknownMember = errors.New("unknown member")
	// ErrMembershipConflict: the change was refused given the current
	// configuration (another change pending, server already present, last
	// voter, ...).
	ErrMembershipConflict = errors.New("membership change refused")
)
