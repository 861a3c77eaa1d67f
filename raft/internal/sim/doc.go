// Package sim is Mandate's deterministic simulator: it drives many
// core.RawNode instances in one process, on one goroutine, against a
// logical clock, a simulated network and simulated durable storage, and
// checks the Raft safety properties after every step.
//
// Everything random (message delays, drops, duplicates, partitions,
// crashes, proposals, each core's own seed) comes from one math/rand/v2
// source seeded with the run's seed, and nothing reads the wall clock or
// iterates a Go map where order matters, so a seed replays a run bit for
// bit. A run's trace hash (Result.TraceHash) is the evidence.
//
// # What a step is
//
// The simulator pops the earliest event of a time-ordered queue: one
// message delivery, one tick of one node, one storage operation becoming
// durable, one crash or restart, one proposal, or one scenario action. It
// performs it, drains the affected node's Ready batches, and checks the
// invariants that the step could have broken.
//
// # Storage model
//
// Each node has durable state (hard state, log, snapshot metadata) and a
// queue of pending writes. A Ready's Snapshot, Entries and HardState join
// the queue as separate operations, each becoming durable at its own
// (random) time, in order; after the last one the Ready's DurableMessages
// are sent and the storage acknowledgements are stepped. A crash throws the
// queue away, so it may fall between any two storage operations; a restart
// builds a new RawNode from the durable state alone.
//
// See docs/simulation.md for how to run it and what it has caught.
package sim
