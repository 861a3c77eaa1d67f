// Package logstore defines where a node keeps its Raft log and hard state.
//
// Implementations live in subpackages (memory, boltdb) and must pass the
// conformance suite in logstore/logstoretest. A Store is used by one node;
// its methods may be called from several goroutines (the storage stage
// writes while the replication stage reads), so implementations must be
// safe for concurrent use.
package logstore

import (
	"errors"

	"github.com/mandate-raft/mandate/wire"
)

// Errors that callers act on.
var (
	// ErrCompacted is returned when a requested index is older than the
	// first stored entry: the caller needs a snapshot instead.
	ErrCompacted = errors.New("logstore: entries compacted")
	// ErrUnavailable is returned when a requested index is past the last
	// stored entry.
	ErrUnavailable = errors.New("logstore: entries unavailable")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("logstore: closed")
	// ErrCorrupt wraps any integrity failure found while reading: a checksum
	// mismatch, an entry that does not decode, a gap in the indexes. A node
	// whose store is corrupt must refuse to serve.
	ErrCorrupt = errors.New("logstore: corrupt")
	// ErrNonContiguous is returned by StoreEntries when the batch would
	// leave a gap: its first index is past LastIndex+1, its indexes are not
	// consecutive, or it holds index 0. Nothing is written. It points at a
	// bug in the caller, not at the storage.
	ErrNonContiguous = errors.New("logstore: entries not contiguous")
)

// LogStore holds a contiguous run of log entries [FirstIndex, LastIndex].
type LogStore interface {
	// FirstIndex returns the index of the first stored entry, or 0 when the
	// store holds no entries.
	FirstIndex() (uint64, error)
	// LastIndex returns the index of the last stored entry, or 0 when the
	// store holds no entries.
	LastIndex() (uint64, error)
	// Entries returns the entries with indexes in [lo, hi), stopping early
	// (but always returning at least one entry) once their total Size
	// exceeds maxBytes; maxBytes 0 means no limit. It returns ErrCompacted
	// if lo < FirstIndex and ErrUnavailable if hi > LastIndex+1 (so, on an
	// empty store, for any non-empty range). lo == hi returns no entries and
	// no error; lo > hi is an error. The returned slice is the caller's.
	Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error)
	// StoreEntries durably appends entries, which must have consecutive
	// indexes starting at most at LastIndex+1 (any index >= 1 when the store
	// is empty) and not below FirstIndex (ErrCompacted otherwise); a batch
	// breaking these rules returns ErrNonContiguous and writes nothing. An
	// empty batch is a no-op. Any stored entries at or after
	// entries[0].Index are replaced. When it returns nil the entries
	// survive a crash. When it returns an error, or the process dies
	// during the call, the log stays contiguous and keeps every stored
	// entry before the first one the batch changes; what else survives is
	// the implementation's to say (boltdb: the old entries or the new
	// ones; wal: also a shorter old log, or the first entries of the
	// batch). Raft needs no more: nothing of the batch was acknowledged.
	StoreEntries(entries []wire.Entry) error
	// DeleteBefore removes every entry with an index below index (log
	// compaction after a snapshot). Afterwards FirstIndex is index, or 0 if
	// no entries remain. Deleting a prefix that is already gone is a no-op.
	DeleteBefore(index uint64) error
}

// StableStore holds the node's HardState.
type StableStore interface {
	// HardState returns the last HardState saved, and false if none was.
	HardState() (wire.HardState, bool, error)
	// SetHardState durably replaces the saved HardState.
	SetHardState(hs wire.HardState) error
}

// Store is a node's whole durable Raft state: its log and its hard state.
type Store interface {
	LogStore
	StableStore
	// Close releases the store. Every later call returns ErrClosed.
	Close() error
}
