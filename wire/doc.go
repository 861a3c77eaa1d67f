// Package wire defines the data of the Raft protocol that crosses package
// boundaries: log entries, messages between nodes, the hard state a node
// persists, snapshot metadata and cluster membership.
//
// Every type here is plain data. The core produces and consumes it, the log
// and snapshot stores persist it, and transports carry it; none of them
// depends on another to understand it. Encoding to bytes lives with whoever
// needs bytes (see Codec for the shared msgpack handle).
package wire
