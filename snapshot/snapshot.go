// Package snapshot defines where a node keeps snapshots of its FSM.
//
// Implementations live in subpackages (memory, file) and must pass the
// conformance suite in snapshot/snapshottest. A Store is safe for
// concurrent use: a snapshot may be written while another is read.
package snapshot

import (
	"errors"
	"io"

	"github.com/mandate-raft/mandate/wire"
)

// Errors that callers act on.
var (
	// ErrNotFound is returned by Open for an unknown snapshot ID.
	ErrNotFound = errors.New("snapshot: not found")
	// ErrCorrupt wraps a snapshot whose data does not match its checksum or
	// size, or whose metadata does not decode.
	ErrCorrupt = errors.New("snapshot: corrupt")
	// ErrClosed is returned by a Sink's methods after Close or Cancel.
	ErrClosed = errors.New("snapshot: sink closed")
)

// Store keeps snapshots, newest first.
type Store interface {
	// Create starts a new snapshot described by meta (Index, Term, Config;
	// ID, Size and Checksum are filled in by the store). Its data is written
	// to the returned Sink; it becomes visible to List and Open only once
	// Sink.Close returns nil. If meta.Size or meta.Checksum is not zero
	// (say, as received from a leader), Close checks the data written
	// against them and, if they differ, fails with an error wrapping
	// ErrCorrupt and keeps nothing: a transfer is verified end to end.
	Create(meta wire.SnapshotMeta) (Sink, error)
	// List returns the metadata of every complete, valid snapshot, newest
	// (highest Index, then most recently created) first.
	List() ([]wire.SnapshotMeta, error)
	// Open returns a snapshot's metadata and a reader of its data. The
	// reader checks the data against the stored checksum and returns an
	// error wrapping ErrCorrupt at the end if they differ.
	Open(id string) (wire.SnapshotMeta, ReadSeekCloser, error)
}

// ReadSeekCloser is a snapshot's data, readable from any offset (so that an
// interrupted transfer can resume).
type ReadSeekCloser interface {
	io.ReadSeeker
	io.Closer
}

// Sink receives a snapshot's data.
type Sink interface {
	io.Writer
	// ID returns the snapshot's ID within its store.
	ID() string
	// Close completes the snapshot: its data and metadata are durable and
	// it is visible to List and Open when Close returns nil.
	Close() error
	// Cancel abandons the snapshot; nothing of it remains visible.
	Cancel() error
}
