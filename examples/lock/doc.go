// Package lock is a lock service FSM with leases and fencing tokens,
// registered with package fsm as "lock".
//
// Acquire(name, owner, ttl) grants a free lock and returns a fencing token:
// the log index of the command that granted it, so the tokens of one lock
// strictly increase across all its acquisitions, and a resource guarded by
// the lock can refuse a write carrying a token older than one it has seen.
// Renew and Release need the holder's owner name and its token.
//
// # Time
//
// A lease expires at grant time + ttl, where time is the largest
// fsm.Command.Time seen in the log (the leader's clock, carried in every
// entry; the largest is kept so that time never runs backwards when
// leadership moves). No replica reads its own clock, so every replica
// expires the same lease at the same log index. Expiry is observed when a
// later command arrives: at each command, first every lease due by its
// time expires, in (expiry, name) order, and each freed lock passes to its
// first waiter.
//
// # Waiting
//
// An Acquire with a Wait queues the owner, first come first served, until
// the deadline now + Wait. When the lock is released, or its lease is seen
// to expire, the first waiter whose deadline has not passed gets it (with
// the index of that command as its token); waiters past their deadline are
// dropped. A waiter learns of its grant through Show, or by repeating its
// Acquire, which returns the lease it now holds.
//
// # Exactly once
//
// Commands may travel inside fsm/session envelopes, so that a retried
// Release or Renew is not applied twice. Without one, Acquire is still
// idempotent for the holder (it returns the current lease unchanged).
//
// Show may be called from any goroutine, concurrently with Apply.
package lock
