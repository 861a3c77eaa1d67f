package raft

import (
	"errors"
	"fmt"

	"github.com/mandate-raft/mandate/wire"
)

// Sentinel errors. Match them with errors.Is; the typed errors below wrap
// them.
var (
	// ErrNotCommitted is wrapped by every *NotCommittedError: the command was
	// definitely not committed and may be retried safely.
	ErrNotCommitted = errors.New("raft: command not committed")
	// ErrOutcomeUnknown is wrapped by every *OutcomeUnknownError: the command
	// may or may not be committed.
	ErrOutcomeUnknown = errors.New("raft: command outcome unknown")
	// ErrNotLeader is wrapped by every *NotLeaderError.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrShutdown means the node is shut down, or stopped itself after a
	// fatal storage or state machine error.
	ErrShutdown = errors.New("raft: node is shut down")
	// ErrLeadershipLost means the leader a proposal was handed to (this node
	// or the one it was forwarded to) lost its leadership before the
	// proposal was known to be committed.
	ErrLeadershipLost = errors.New("raft: leadership lost while the command was in flight")
	// ErrAlreadyBootstrapped is returned by Bootstrap when the node already
	// holds Raft state other than the identical bootstrap entry.
	ErrAlreadyBootstrapped = errors.New("raft: node already has state")
	// ErrInvalidConfig is wrapped by every problem Config.Validate reports.
	ErrInvalidConfig = errors.New("raft: invalid config")
	// ErrNothingToSnapshot is returned by Node.Snapshot when the FSM has
	// applied nothing yet.
	ErrNothingToSnapshot = errors.New("raft: nothing applied to snapshot")
)

// NotCommittedError reports a command that was definitely not committed:
// it never reached the core, or the core refused it. Retrying it is safe.
// errors.Is(err, ErrNotCommitted) holds, and errors.Is / errors.As also
// see Cause (a *NotLeaderError, ErrShutdown, core's ErrProposalDropped, or
// the context's error).
type NotCommittedError struct {
	Cause error
}

// Error describes the cause.
func (e *NotCommittedError) Error() string {
	return fmt.Sprintf("raft: command not committed: %v", e.Cause)
}

// Unwrap returns ErrNotCommitted and the cause.
func (e *NotCommittedError) Unwrap() []error { return []error{ErrNotCommitted, e.Cause} }

// OutcomeUnknownError reports a command that was handed to Raft (appended
// or forwarded) but whose fate was not learned: leadership was lost, the
// node shut down, or the context ended first. It may have been committed;
// retry it only if it is idempotent (or carries a client session).
// errors.Is(err, ErrOutcomeUnknown) holds, and errors.Is also sees Cause.
type OutcomeUnknownError struct {
	Cause error
}

// Error describes the cause.
func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("raft: command outcome unknown: %v", e.Cause)
}

// Unwrap returns ErrOutcomeUnknown and the cause.
func (e *OutcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.Cause} }

// NotLeaderError reports that this node cannot accept the request because
// it is not the leader (and forwarding is off, or no leader is known).
// LeaderID and LeaderAddress name the leader this node knows of, if any,
// so that the caller can retry there.
type NotLeaderError struct {
	LeaderID      wire.NodeID
	LeaderAddress string
}

// Error names the known leader.
func (e *NotLeaderError) Error() string {
	if e.LeaderID == wire.None {
		return "raft: not the leader, and no leader is known"
	}
	return fmt.Sprintf("raft: not the leader; the leader is %q at %q", e.LeaderID, e.LeaderAddress)
}

// Unwrap returns ErrNotLeader.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

func notCommitted(cause error) error { return &NotCommittedError{Cause: cause} }

func outcomeUnknown(cause error) error { return &OutcomeUnknownError{Cause: cause} }

// IsRetryable reports whether err says a command was definitely not
// committed, so that proposing it again cannot apply it twice.
func IsRetryable(err error) bool { return errors.Is(err, ErrNotCommitted) }
