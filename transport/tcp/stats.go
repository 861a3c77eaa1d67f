package tcp

import "sync/atomic"

// Stats counts what a Transport did since New, for metrics and tests.
// Every field only grows.
type Stats struct {
	// MessagesSent counts messages written to a connection (they may
	// still be lost if the connection then fails).
	MessagesSent uint64
	// MessagesDropped counts messages given to Send that were never
	// written: queue full, peer unreachable, too large, not from this node.
	MessagesDropped uint64
	// MessagesReceived counts messages handed to the handler.
	MessagesReceived uint64
	// DialFailures counts failed connection attempts, refused handshakes
	// included.
	DialFailures uint64
	// ConnectionsRejected counts inbound connections closed for bad input,
	// a refused handshake or the connection limit.
	ConnectionsRejected uint64
	// SnapshotsSent and SnapshotsFailed count SendSnapshot outcomes;
	// SnapshotResumes counts attempts to continue a cut stream on a new
	// connection.
	SnapshotsSent, SnapshotsFailed, SnapshotResumes uint64
	// SnapshotBytesSent counts snapshot data bytes written.
	SnapshotBytesSent uint64
}

type counters struct {
	sent, dropped, received, dialFailures, rejected atomic.Uint64
	snapsSent, snapsFailed, snapResumes, snapBytes  atomic.Uint64
}

// Stats returns the transport's counters now.
func (t *Transport) Stats() Stats {
	c := &t.stats
	return Stats{
		MessagesSent: c.sent.Load(), MessagesDropped: c.dropped.Load(), MessagesReceived: c.received.Load(),
		DialFailures: c.dialFailures.Load(), ConnectionsRejected: c.rejected.Load(),
		SnapshotsSent: c.snapsSent.Load(), SnapshotsFailed: c.snapsFailed.Load(),
		SnapshotResumes: c.snapResumes.Load(), SnapshotBytesSent: c.snapBytes.Load(),
	}
}
