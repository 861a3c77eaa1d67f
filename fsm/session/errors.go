package session

import "errors"

// Errors carried in fsm.Result.Err for commands the session layer refused.
// A refused command was not applied to the inner FSM.
var (
	// ErrBadEnvelope means a command started with the envelope prefix but
	// could not be decoded: truncated, an unknown version, an empty or
	// over-long client id, a zero sequence, or Ack above the sequence.
	ErrBadEnvelope = errors.New("session: malformed envelope")
	// ErrSessionExpired means the command's client has no session here but
	// has already received replies (Ack > 1): its session expired or was
	// evicted, so a retry cannot be told from a new command. The client
	// must start a new session under a new client id.
	ErrSessionExpired = errors.New("session: session expired")
	// ErrStaleSequence means the command's sequence is below the session's
	// acknowledged floor: the client said it had the reply, and the result
	// was discarded.
	ErrStaleSequence = errors.New("session: stale sequence")
	// ErrTooManyPending means the session already remembers
	// Options.MaxPending unacknowledged results; the client must acknowledge
	// some before sending new commands. The command was not applied.
	ErrTooManyPending = errors.New("session: too many unacknowledged commands")
	// ErrNoEnvelope means Options.RequireEnvelope is set and the command
	// came without a session envelope.
	ErrNoEnvelope = errors.New("session: command has no session envelope")
	// ErrBadSnapshot means Restore read a snapshot it cannot decode.
	ErrBadSnapshot = errors.New("session: malformed snapshot")
)
