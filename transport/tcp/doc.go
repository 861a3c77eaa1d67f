// Package tcp is Mandate's network transport: length-prefixed msgpack
// frames over long-lived TCP connections, optionally with mutual TLS.
//
// # Connections
//
// Each node keeps, per peer, two outbound connections ("lanes"): a bulk
// lane for MsgApp and MsgProp, whose messages may be large, and a control
// lane for everything else (votes, heartbeats, responses), so that a
// heartbeat never waits behind a large append. Every snapshot travels on a
// connection of its own. Lanes are dialed lazily, redialed with capped
// exponential backoff after a failure, and closed when idle; while a peer
// cannot be reached its messages are dropped (Raft retries) and the handler
// hears ReportUnreachable.
//
// A peer that restarts on its address must not lose what is sent to it
// next (not every message is retried by Raft: a forwarded proposal is
// not). A goroutine reads each outbound connection, on which the peer
// never writes, so that a FIN or reset tears the lane's connection down at
// once; before writing to a connection idle for a millisecond the lane
// also peeks at its socket without blocking. A batch whose write fails is
// sent once more on a new connection (Raft takes duplicates).
//
// A lane writes every queued message without waiting for answers, so
// appends are pipelined (the core bounds how many are in flight), and
// flushes once per batch. Each connection reuses one encoding buffer.
//
// # Wire format
//
// Every connection opens with a handshake (see handshake.go): magic,
// protocol version, lane, cluster id, sender id and receiver id. The
// acceptor refuses, with a reason and a log line, a peer of another
// cluster, another protocol version, or one that meant to dial another
// node. Then frames flow: a 4-byte big-endian length and a payload; on the
// message lanes the payload is one msgpack-encoded wire.Message, exactly
// as the go-msgpack codec writes it with wire.MsgpackHandle. Hand-written
// code writes and reads those bytes without the codec's per-field
// reflection; tests hold it to byte equality with the codec, and check
// that a node of the previous version (which used the codec) and this one
// read each other's frames.
//
// # Hostile input
//
// A frame longer than MaxFrameSize, a truncated frame, bytes that are not
// msgpack, a message of a local-only or unknown type, a message whose
// sender is not the node that shook hands, and declared lengths far beyond
// the frame (msgpack bombs) all close the connection that carried them,
// with a logged reason; nothing is allocated ahead of the bytes actually
// received, and other connections are not affected.
//
// # Snapshots
//
// SendSnapshot streams its data in chunks, each with its offset and a
// CRC-32C. The receiver hands chunks to Handler.HandleSnapshot through a
// pipe as they arrive, so neither side ever holds the whole snapshot, and
// a slow handler slows the sender through TCP's own flow control. When a
// connection drops (or a chunk fails its checksum) the sender dials again
// and the receiver tells it the offset it has, from which the sender seeks
// and continues. SnapshotBandwidth caps the bytes per second of all
// outgoing snapshots together.
package tcp
