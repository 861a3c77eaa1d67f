// Package core is Mandate's Raft consensus algorithm as a pure,
// deterministic state machine: messages and ticks go in, Ready batches come
// out. It starts no goroutine, reads no clock, performs no I/O of its own
// (it reads the durable log through the Storage interface its caller
// provides) and takes all randomness from Config.Seed, so the same inputs
// always produce the same outputs. The runtime (package raft) drives it;
// the simulator (package sim) drives thousands of them.
//
// # The Ready protocol
//
// After any Tick or Step, the caller collects Ready() and acts on it:
//
//  1. Messages may be sent at once.
//  2. Snapshot (if set), then Entries, then HardState are written to
//     durable storage, in the order Readys were produced. Entries replace any
//     stored entries at or after Entries[0].Index.
//  3. Once they are durable, DurableMessages are sent, and the caller steps
//     a MsgStorageAppendResp (Index and LogTerm of the last entry written;
//     for a snapshot alone, the snapshot's) back into the core. Only then
//     does a leader count its own log towards a quorum, and only then are
//     the entries readable through Storage.
//  4. CommittedEntries are applied to the FSM in order (after Snapshot, if
//     set, has been restored into it).
//  5. ReadStates are answered once the FSM has applied their Index.
//
// A Ready hands its contents over: the next Ready holds only what is new.
// Several Readys may be in flight in the storage stage at once; the core
// never hands out a committed entry before it is durable locally. A
// runtime that writes several Readys together may acknowledge only the
// last entry of the group: writes complete in order.
//
// # Conventions on the wire
//
//   - MsgProp and MsgReadIndex forwarded by a follower carry no term; every
//     other message from a peer must (StepPeer refuses it otherwise).
//   - MsgHeartbeat.Index carries the leader's logical tick (plus one) and
//     MsgHeartbeatResp echoes it: lease reads are measured from when the
//     heartbeat left.
//   - MsgReadIndex.Index set to 1 asks for a heartbeat-confirmed read even
//     from a lease-based leader (ReadIndexSafe); followers forward it as is.
//   - A MsgTransferLeader a follower forwards to the leader names the
//     target in Context, From being the forwarding follower (transports
//     authenticate From); a locally stepped one may name it in From.
//   - The vote requests of a campaign a leader asked for (MsgTimeoutNow)
//     carry a transfer marker in Context, so followers answer them even
//     within a leader lease.
//
// # Membership
//
// The newest configuration in the log is in force as soon as it is
// appended. A server that is not a voter in it does not campaign, except
// while that configuration is uncommitted and the committed one still
// counts it as a voter (Raft thesis §4.2.2: it may be needed to elect the
// leader that commits its removal). Servers being removed keep receiving
// the log until their removal commits.
package core

import (
	"errors"

	"github.com/mandate-raft/mandate/wire"
)

// Errors returned by Step and the proposal helpers.
var (
	// ErrProposalDropped means a proposal was not appended anywhere: this
	// node is not the leader and cannot forward it, or a leadership
	// transfer is under way. It is safe to retry elsewhere or later.
	ErrProposalDropped = errors.New("raft: proposal dropped")
	// ErrConfChangePending means a membership change was refused because
	// another one is not yet committed, or the leader has not yet committed
	// an entry of its own term.
	ErrConfChangePending = errors.New("raft: membership change already in progress")
	// ErrInvalidConfChange means a membership change made no sense against
	// the current configuration (adding a present server, removing an
	// absent one, removing the last voter, ...).
	ErrInvalidConfChange = errors.New("raft: invalid membership change")
	// ErrStepLocalMsg is returned when a message of a local-only type is
	// stepped as if it came from the network (see StepPeer).
	ErrStepLocalMsg = errors.New("raft: local message type received from a peer")
	// ErrUnknownPeer is returned by StepPeer for a message whose sender is
	// neither a member nor a plausible new leader.
	ErrUnknownPeer = errors.New("raft: message from unknown peer")
	// ErrInvalidMessage is returned by Step and StepPeer for a message
	// that is malformed (unknown type, entries that are not a consecutive
	// run, a MsgSnap without snapshot, addressed to another node). It was
	// not processed.
	ErrInvalidMessage = errors.New("raft: invalid message")
)

// StateType is a node's role.
type StateType uint8

// The roles of a Raft node.
const (
	StateFollower StateType = iota
	StateCandidate
	StateLeader
	StatePreCandidate
)

// String returns the role's name.
func (s StateType) String() string {
	switch s {
	case StateFollower:
		return "Follower"
	case StateCandidate:
		return "Candidate"
	case StateLeader:
		return "Leader"
	case StatePreCandidate:
		return "PreCandidate"
	}
	return "StateType(?)"
}

// ReadOnlyOption chooses how the leader confirms it may serve a read.
type ReadOnlyOption uint8

const (
	// ReadOnlySafe confirms leadership with a round of heartbeats to a
	// quorum for every batch of read requests (Raft thesis §6.4).
	ReadOnlySafe ReadOnlyOption = iota
	// ReadOnlyLeaseBased trusts that no other leader can exist while the
	// leader has heard from a quorum within the last election timeout. It
	// assumes clocks on all nodes advance at rates within a bounded drift of
	// each other, and requires CheckQuorum. Precisely: a read is answered
	// at once while a quorum of voters answered heartbeats sent less than
	// ElectionTick - ElectionTick/10 - 2 ticks ago (so clock rates may
	// differ by up to 10%), no leadership transfer was started this term,
	// and the runtime ticks by elapsed monotonic time (a paused process
	// catches up on its ticks before it serves reads). Otherwise the read
	// takes the ReadOnlySafe path. Nodes using it also refuse votes for an
	// election timeout after they start.
	ReadOnlyLeaseBased
)

// Logger is the subset of hclog.Logger the core uses. Keys are kebab-case.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// Storage is the core's read-only view of the entries that are durable on
// this node, and of the newest snapshot. Entries the core handed out in a
// Ready become visible through Storage no later than the
// MsgStorageAppendResp that reports them durable.
type Storage interface {
	// Entries returns entries [lo, hi), at least one, at most maxBytes in
	// total (0 = unlimited). Errors: logstore.ErrCompacted if lo is below
	// FirstIndex, logstore.ErrUnavailable if hi > LastIndex+1.
	Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error)
	// Term returns the term of entry i, for i in [FirstIndex-1, LastIndex]
	// (FirstIndex-1 being the snapshot's index), with the same errors.
	Term(i uint64) (uint64, error)
	// FirstIndex is the index of the first entry available (the snapshot's
	// index + 1 after compaction; 1 for a fresh log).
	FirstIndex() uint64
	// LastIndex is the index of the last durable entry, or the snapshot's
	// index when the log after it is empty.
	LastIndex() uint64
	// Snapshot returns the newest snapshot's metadata (zero if none).
	Snapshot() wire.SnapshotMeta
}

// Config configures one core. Tick counts are in units of Tick calls; the
// runtime converts durations.
type Config struct {
	// ID is this node's identity. Required.
	ID wire.NodeID
	// ElectionTick is the minimum number of ticks a follower waits without
	// hearing from a leader before it campaigns; the actual timeout is drawn
	// from [ElectionTick, 2*ElectionTick) after every reset. Must be
	// greater than HeartbeatTick. Default 10.
	ElectionTick int
	// HeartbeatTick is the number of ticks between a leader's heartbeats.
	// Default 1.
	HeartbeatTick int
	// Storage is the durable log. Required.
	Storage Storage
	// HardState is the hard state loaded from stable storage at start (zero
	// for a new node).
	HardState wire.HardState
	// Applied is the index the FSM has already applied at start (the
	// restored snapshot's index, or 0). CommittedEntries start after it.
	Applied uint64
	// MaxSizePerMsg bounds the bytes of entries in one MsgApp (at least one
	// entry is always sent). Default 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds the MsgApps in flight to one follower in the
	// replicate state (the pipelining window). Default 256.
	MaxInflightMsgs int
	// MaxCommittedSizePerReady bounds the bytes of CommittedEntries in one
	// Ready. Default 64 MiB.
	MaxCommittedSizePerReady uint64
	// CheckQuorum makes a leader step down when it has not heard from a
	// quorum within an election timeout, and makes followers ignore vote
	// requests while they have heard from a leader within one.
	CheckQuorum bool
	// PreVote runs a pre-election that changes no term first, so that a
	// node rejoining after a partition cannot depose a healthy leader.
	PreVote bool
	// ReadOnlyOption chooses how ReadIndex requests are confirmed.
	ReadOnlyOption ReadOnlyOption
	// DisableProposalForwarding makes followers drop proposals
	// (ErrProposalDropped) instead of forwarding them to the leader.
	DisableProposalForwarding bool
	// DiskStallTicks is how long a leader tolerates its own oldest pending
	// write not being durable before it steps down so that a node with a
	// healthy disk can lead. 0 means ElectionTick.
	DiskStallTicks int
	// Seed seeds the core's only source of randomness (election timeouts).
	Seed int64
	// Logger receives the core's log lines. Nil discards them.
	Logger Logger
}

// SoftState is the volatile part of a node's state that observers care
// about.
type SoftState struct {
	Lead  wire.NodeID
	State StateType
}

// ReadState answers a ReadIndex request: once the FSM has applied Index,
// a read issued when RequestCtx was submitted may be served linearizably.
type ReadState struct {
	Index      uint64
	RequestCtx []byte
}

// Ready is the batch of work the core hands its caller; see the package
// documentation for the protocol.
type Ready struct {
	// SoftState is non-nil when the leader or this node's role changed.
	SoftState *SoftState
	// HardState is the hard state to persist; zero when unchanged.
	HardState wire.HardState
	// Snapshot, when non-nil, is a snapshot received from the leader to
	// install: its data is already in the snapshot store under Snapshot.ID.
	// The caller discards its log up to (and, when it conflicts, after)
	// Snapshot.Index, records the snapshot as the log's base, and restores
	// the FSM from it before applying CommittedEntries.
	Snapshot *wire.SnapshotMeta
	// Entries are to be persisted before DurableMessages are sent.
	Entries []wire.Entry
	// CommittedEntries are to be applied, in order.
	CommittedEntries []wire.Entry
	// Messages may be sent immediately.
	Messages []wire.Message
	// DurableMessages may be sent only after Snapshot, Entries and
	// HardState of this Ready (and of every earlier one) are durable: vote
	// grants, append acknowledgements, vote requests.
	DurableMessages []wire.Message
	// ReadStates are read indexes confirmed since the last Ready.
	ReadStates []ReadState
	// MustSync reports whether the writes of this Ready need an fsync
	// (entries, a snapshot, or a term or vote change); a change of the
	// commit index alone does not.
	MustSync bool
}

// IsEmpty reports whether rd holds nothing to do.
func (rd *Ready) IsEmpty() bool {
	return rd.SoftState == nil && rd.HardState.IsEmpty() && rd.Snapshot == nil &&
		len(rd.Entries) == 0 && len(rd.CommittedEntries) == 0 &&
		len(rd.Messages) == 0 && len(rd.DurableMessages) == 0 && len(rd.ReadStates) == 0
}

// ProgressState is how a leader replicates to one follower.
type ProgressState uint8

// The progress states of Raft's flow control.
const (
	// ProgressProbe sends one MsgApp per heartbeat until the follower's
	// match index is found.
	ProgressProbe ProgressState = iota
	// ProgressReplicate streams MsgApps optimistically, up to
	// MaxInflightMsgs unacknowledged.
	ProgressReplicate
	// ProgressSnapshot waits for a snapshot transfer to end.
	ProgressSnapshot
)

// Progress is the leader's view of one follower, for Status.
type Progress struct {
	Match, Next  uint64
	State        ProgressState
	RecentActive bool
	Inflight     int
	IsLearner    bool
}

// Status is a snapshot of a core's state, for Stats and tests.
type Status struct {
	ID        wire.NodeID
	HardState wire.HardState
	SoftState SoftState
	// Applied is the index of the last entry handed out in CommittedEntries.
	Applied uint64
	// LastIndex is the index of the last entry in the log (durable or not);
	// StableIndex the last durable one.
	LastIndex, StableIndex uint64
	// Config is the newest configuration in the log (in force).
	Config wire.Configuration
	// ConfigIndex is the index of the entry (or snapshot) that set Config.
	ConfigIndex uint64
	// Progress is set on the leader only.
	Progress map[wire.NodeID]Progress
	// LeadTransferee is the target of an ongoing leadership transfer.
	LeadTransferee wire.NodeID
}

// ConfChangeOp is a single-server membership change.
type ConfChangeOp uint8

// The membership changes. Each changes the voter set by at most one server,
// so consecutive configurations always share a quorum.
const (
	AddLearner   ConfChangeOp = iota // add a non-voting member
	AddVoter                         // add a voting member (or promote a learner)
	DemoteVoter                      // turn a voter into a learner
	RemoveServer                     // remove a member of either role
)

// ConfChange asks the leader to change the configuration by one server.
type ConfChange struct {
	Op      ConfChangeOp
	ID      wire.NodeID
	Address string
}
