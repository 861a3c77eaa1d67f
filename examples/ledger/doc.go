// Package ledger is a bank-account ledger FSM, registered with package fsm
// as "ledger".
//
// Amounts are int64 counts of a currency's minor unit (cents). Deposit
// opens an account the first time it is used; Withdraw and Transfer need
// the account to exist and never leave a balance negative; a Transfer
// either moves the whole amount or changes nothing. Every amount must be
// positive, and no total may overflow int64.
//
// # Exactly once
//
// Every write must travel inside a fsm/session envelope: the ledger refuses
// a bare command (session.ErrNoEnvelope). Two ways to use it:
//
//   - One request id per write: Request(id, cmd) wraps cmd as sequence 1 of
//     a session named by the request id. Retrying with the same id returns
//     the first verdict and never moves money twice.
//   - A long-lived client: session.NewClient(id).Wrap(cmd.Encode()) numbers
//     commands itself and acknowledges replies, so the ledger forgets
//     results as soon as the client has them.
//
// Retention rule: a result is remembered until its client acknowledges it,
// or until no command of its client (request id) has been seen for
// Options.SessionTTL of log time (default 24 hours), whichever comes first;
// the oldest sessions are forgotten first when there are more than
// Options.MaxSessions. A retry after its result was forgotten is refused
// (session.ErrSessionExpired or session.ErrStaleSequence), except a
// one-request session retried after expiry, which counts as a new request:
// retry within the TTL.
//
// # Reads
//
// Balance, Accounts and Audit read the applied state and are safe to call
// concurrently with Apply. They are linearizable only after a read barrier
// (the daemon issues one before calling them).
package ledger
