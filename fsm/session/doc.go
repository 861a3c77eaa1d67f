// Package session gives any FSM exactly-once command semantics through
// client sessions (Raft thesis §6.3).
//
// A client sends each command inside an Envelope carrying its client id, a
// sequence number it never reuses, and Ack: the lowest sequence whose reply
// it has not yet received (every sequence below Ack has been answered). The
// wrapper FSM remembers the result of every sequence at or above Ack, so a
// command retried after a leader crash gets its remembered result instead
// of being applied again, and it forgets results as soon as a later command
// acknowledges them.
//
// # Rules every replica shares
//
//   - A client's session is created by its first command, provided that
//     command's Ack is 0 or 1 (the client has received no reply yet). A
//     command from an unknown client with a higher Ack belongs to a session
//     that expired, and is refused with ErrSessionExpired, never applied.
//   - A sequence below the session's acknowledged floor is refused with
//     ErrStaleSequence: its result was discarded at the client's request.
//   - A session idle for longer than Options.TTL is forgotten. Time is the
//     largest fsm.Command.Time seen in the log (the leader's clock, carried
//     in every entry), never a replica's own clock, so every replica expires
//     the same sessions at the same index. A client must therefore finish
//     retrying a command within TTL of its last command: a retry after its
//     session expired is refused (Ack > 1) or, if the client had received no
//     reply at all, applied again.
//   - Options must be identical on every replica: they are part of the state
//     machine's definition.
//
// # Results
//
// Remembered results are kept encoded by a ResultCodec, so they survive a
// snapshot and restore. The first caller gets the inner FSM's Result as it
// is; a retry gets the decoded copy. An inner FSM that implements
// ResultCodec encodes its own results; otherwise MsgpackCodec is used, which
// keeps errors.Is working for the sentinel errors it is given.
//
// # Cost
//
// A session with one remembered result costs about 220 bytes of heap.
// Snapshot does not copy the table: it freezes a chunked registry of the
// sessions (one pointer copied per 256 sessions), and the live table copies
// a session record before its first change after the freeze. Persist then
// writes the frozen sessions while Apply goes on. The ledger's
// BenchmarkSnapshotWithSessions measures both with a million sessions.
//
// # Pass-through
//
// A command that does not start with the envelope's magic prefix is handed
// to the inner FSM unchanged, unless Options.RequireEnvelope is set. The
// prefix starts with the byte 0xc1, which msgpack never produces, so a
// msgpack-encoded command is never mistaken for an envelope.
package session
