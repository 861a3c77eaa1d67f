// Package raft is Mandate's node runtime: it runs one Raft core (package
// raft/internal/core) behind one event loop and connects it to the user's
// state machine (package fsm), a log store, a snapshot store and a
// transport.
//
// # Pipeline
//
// A Node runs three stages, each on its own goroutine:
//
//  1. The event loop owns the core. It steps proposals, peer messages and
//     clock ticks into it, collects Ready batches, sends their Messages at
//     once, and queues the rest for the two other stages. It never waits for
//     the disk or the state machine, so a slow disk cannot stop it from
//     ticking (which is how a leader with a stalled disk steps down).
//  2. The storage stage takes queued Readys in order and commits them as a
//     group: everything queued is written with one StoreEntries call (one
//     fsync for many proposals). Only then does it send the Readys'
//     DurableMessages (vote grants, append acknowledgements, vote requests)
//     and report the write durable to the core. The persist-before-send rule
//     lives in this one place (persist.go). A storage error stops the node.
//  3. The apply stage feeds committed entries to the FSM in batches (through
//     fsm.BatchFSM when the FSM implements it), resolves the callers' futures
//     and takes snapshots.
//
// # Results of Apply
//
// Every Apply ends in exactly one of three ways: committed (nil error),
// definitely not committed (*NotCommittedError: safe to retry), or outcome
// unknown (*OutcomeUnknownError: retry only idempotent commands). See
// Node.Apply. Membership changes report the same three outcomes.
//
// # Starting a cluster
//
// Every founding member calls NewNode and then Bootstrap with the same
// configuration; a restarted node only calls NewNode (Bootstrap on a node
// that already holds this bootstrap entry is a no-op, so a daemon may call
// it on every start). A node joining a running cluster starts blank, is
// told the members' addresses with SetPeers, and is added by the leader
// with AddLearner, then AddVoter once it has caught up.
//
// # Durability
//
// A vote or an append acknowledgement leaves a node only after what it
// promises is durable in the log store. The commit index is written
// lazily (see persist.go): it is a restart hint, not a promise. On
// restart the FSM is restored from the newest snapshot that restores
// cleanly and the committed log after it is applied again, so an FSM must
// start empty and be deterministic.
package raft
