// Package transport defines how Raft nodes exchange messages and
// snapshots.
//
// Implementations live in subpackages (inmem, tcp) and must pass the
// conformance suite in transport/transporttest.
package transport

import (
	"context"
	"errors"
	"io"

	"github.com/mandate-raft/mandate/wire"
)

// Errors that callers act on.
var (
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("transport: closed")
	// ErrUnknownPeer is returned when a message is addressed to a node with
	// no known address.
	ErrUnknownPeer = errors.New("transport: unknown peer")
)

// Transport carries messages between the nodes of one cluster. It is safe
// for concurrent use.
type Transport interface {
	// Start begins delivering inbound traffic to h. It is called once,
	// before any Send.
	Start(h Handler) error
	// Send queues m for delivery to m.To. It never blocks on the network:
	// delivery is best effort, in order per peer, and a message that cannot
	// be queued is dropped (Raft retries). When a peer cannot be reached the
	// transport tells the handler through ReportUnreachable.
	//
	// "In order" holds among messages of the same kind: appends and
	// proposals (MsgApp, MsgProp) keep their order, and so do all other
	// messages among themselves, but a transport may let a heartbeat or a
	// vote overtake a large append queued before it.
	Send(m wire.Message)
	// SendSnapshot streams a snapshot to m.To: m is the MsgSnap carrying the
	// snapshot's metadata, data its bytes. It returns nil once the receiver
	// has stored the snapshot, or an error. A connection lost mid-transfer
	// resumes from the receiver's last good offset when the transport
	// supports it (hence the Seeker).
	SendSnapshot(ctx context.Context, m wire.Message, data io.ReadSeeker) error
	// SetPeer records (or changes) the address of a node.
	SetPeer(id wire.NodeID, addr string)
	// RemovePeer forgets a node and closes connections to it.
	RemovePeer(id wire.NodeID)
	// Addr returns the address other nodes reach this one at.
	Addr() string
	// Close stops the transport and waits for its goroutines to end.
	Close() error
}

// Handler receives what a Transport reads from its peers. Its methods are
// called from the transport's goroutines and must be safe for concurrent
// use.
type Handler interface {
	// HandleMessage is given each inbound message. It must not block for
	// long: it is called from the read loop of the sender's connection.
	HandleMessage(m wire.Message)
	// HandleSnapshot is given an inbound snapshot: m is its MsgSnap and data
	// its bytes from the first. It returns once the snapshot is stored (the
	// node then steps m), or an error that the transport reports to the
	// sender. It may take as long as the transfer takes.
	HandleSnapshot(m wire.Message, data io.Reader) error
	// ReportUnreachable tells the node that id could not be reached.
	ReportUnreachable(id wire.NodeID)
}
