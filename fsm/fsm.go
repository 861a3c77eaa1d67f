// Package fsm is the contract between Mandate and the state machine a user
// replicates, and the registry through which the daemon finds state
// machines by name.
//
// # Threading
//
// Mandate calls Apply, ApplyBatch, Snapshot and Restore from one goroutine,
// never concurrently with each other, in log order. Snapshot must return
// quickly with a point-in-time view; the returned Snapshot's Persist then
// runs on another goroutine, concurrently with later Apply calls, so it must
// not read state that Apply mutates (copy-on-write, or an immutable view).
package fsm

import (
	"io"
	"time"
)

// Command is one committed log entry handed to the FSM.
type Command struct {
	// Index and Term of the log entry. Index strictly increases from one
	// Apply to the next; an FSM may use it as a fencing token or version.
	Index uint64
	Term  uint64
	// Time is the leader's wall clock when it accepted the command. Every
	// replica sees the same value, so it is the time an FSM may use for
	// expiry. It can go backwards when leadership moves between machines
	// whose clocks disagree; FSMs that need monotonic time keep the
	// largest value seen.
	Time time.Time
	// Data is the command as the client proposed it.
	Data []byte
}

// Result is what an FSM returns for one command. Value travels back to the
// caller of Apply on the node that accepted the proposal; Err is the
// command's own verdict (for example "insufficient funds"): the command is
// committed either way, and every replica reaches the same verdict.
type Result struct {
	Value any
	Err   error
}

// FSM is a deterministic state machine: the same commands in the same
// order must produce the same state and the same results on every replica.
type FSM interface {
	// Apply applies one committed command and returns its result. It must
	// not fail for reasons local to this replica (a full disk, a clock): a
	// replica that cannot apply must stop, not diverge.
	Apply(cmd Command) Result
	// Snapshot returns a point-in-time view of the state. It is called
	// between Apply calls and should be fast; the work of writing belongs in
	// Snapshot.Persist, which runs concurrently with later Applies.
	Snapshot() (Snapshot, error)
	// Restore replaces the whole state with the one read from r, which holds
	// what a Snapshot's Persist wrote. It is called before any Apply that
	// follows the snapshot's index.
	Restore(r io.Reader) error
}

// BatchFSM is an FSM that can apply many commands in one call, which lets
// it amortise per-call costs (locking, allocation, a storage transaction).
// When an FSM implements it, Mandate calls ApplyBatch instead of Apply.
type BatchFSM interface {
	FSM
	// ApplyBatch applies cmds in order and returns one Result per command,
	// in the same order. It must be equivalent to calling Apply on each.
	ApplyBatch(cmds []Command) []Result
}

// Snapshot is a point-in-time view of an FSM's state, taken by
// FSM.Snapshot.
type Snapshot interface {
	// Persist writes the state to sink. It may run concurrently with
	// Apply. An error aborts the snapshot; the previous one stays.
	Persist(sink io.Writer) error
	// Release frees the view. It is called exactly once, after Persist
	// returned or when the snapshot is abandoned.
	Release()
}
