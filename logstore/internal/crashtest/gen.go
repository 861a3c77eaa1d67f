// Package crashtest kills a real process that writes to the durable log
// and snapshot stores, at random moments, and checks after every kill that
// everything the process had been told was durable is there and intact.
//
// The writing process is ./child, built by the test. It prints one line
// per write: "intent ..." before it starts the write, "ack ..." after the
// write returned. Contents are derived from indexes and terms (see this
// file), so the checker can recompute what any entry or snapshot holds.
package crashtest

import (
	"bytes"
	"fmt"

	"github.com/mandate-raft/mandate/snapshot/snapshottest"
	"github.com/mandate-raft/mandate/wire"
)

// Entries returns the entries [lo, hi] with the given term, each holding
// EntryData of its index and term.
func Entries(lo, hi, term uint64) []wire.Entry {
	out := make([]wire.Entry, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		out = append(out, wire.Entry{Index: i, Term: term, Data: EntryData(i, term)})
	}
	return out
}

// EntryData is the payload of the entry at index in term: about 128 bytes.
func EntryData(index, term uint64) []byte {
	head := fmt.Sprintf("entry %d term %d|", index, term)
	return append([]byte(head), bytes.Repeat([]byte{byte(index ^ term)}, 128-len(head)+int(index%7))...)
}

// SnapshotSize is the data size of the snapshot taken at index.
func SnapshotSize(index uint64) int { return 64<<10 + int(index*7919%(1<<20)) }

// SnapshotData is the data of the snapshot taken at index.
func SnapshotData(index uint64) []byte { return snapshottest.Data(index, SnapshotSize(index)) }
