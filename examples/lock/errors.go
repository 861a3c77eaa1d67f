package lock

import "errors"

// Verdicts of lock commands, carried in fsm.Result.Err; test them with
// errors.Is. Their texts are stable codes: never change them.
var (
	// ErrLockHeld: the lock is held by another owner and the Acquire did
	// not ask to wait.
	ErrLockHeld = errors.New("lock: held by another owner")
	// ErrNotHolder: the lock is free or held by another owner.
	ErrNotHolder = errors.New("lock: not the holder")
	// ErrWrongToken: the owner holds the lock under another token (an old
	// lease of the same owner).
	ErrWrongToken = errors.New("lock: wrong fencing token")
	// ErrQueueFull: MaxWaiters owners already wait for the lock.
	ErrQueueFull = errors.New("lock: wait queue full")
	// ErrInvalidName: a lock name or owner is empty, too long, or not
	// printable UTF-8.
	ErrInvalidName = errors.New("lock: invalid name")
	// ErrInvalidDuration: a TTL outside [1ms, MaxTTL] or a wait outside
	// [0, MaxWait].
	ErrInvalidDuration = errors.New("lock: invalid duration")
	// ErrBadCommand: the bytes are not a lock command.
	ErrBadCommand = errors.New("lock: malformed command")
	// ErrBadSnapshot: Restore read data that is not a lock table.
	ErrBadSnapshot = errors.New("lock: malformed snapshot")
)

// verdicts lists the sentinels by their one-byte code (index + 1) in
// encoded results. Append only.
var verdicts = []error{
	ErrLockHeld, ErrNotHolder, ErrWrongToken, ErrQueueFull,
	ErrInvalidName, ErrInvalidDuration, ErrBadCommand,
}
