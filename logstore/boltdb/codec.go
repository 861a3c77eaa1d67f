package boltdb

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/wire"
)

// How a stored raft.Log is used. The values are far from hashicorp/raft's
// own log types so that a file written by something else is reported as
// corrupt rather than misread.
const (
	// typeEntry marks a log record holding one wire.Entry.
	typeEntry = raft.LogType(entrycodec.TypeEntry)
	// typeTombstone marks a log record that is no longer part of the log:
	// a key of a replaced suffix or of a compacted prefix, overwritten in
	// the same transaction as the write that made it stale, so that the
	// replacement is atomic.
	typeTombstone raft.LogType = 0xA1
	// typeRun marks a log record holding a run of consecutive entries
	// starting at the record's Index (see run.go).
	typeRun raft.LogType = 0xA2
)

// checksum is entrycodec.Checksum for a raft.Log type.
func checksum(index, term uint64, typ raft.LogType, payload []byte) uint32 {
	return entrycodec.Checksum(index, term, byte(typ), payload)
}

// encoder turns entries into raft.Log records. It reuses its buffers, so
// it belongs to one writer at a time.
type encoder struct {
	*entrycodec.Encoder
	arena []byte
	spans [][2]int
	logs  []raft.Log
	ptrs  []*raft.Log
}

func newEncoder() *encoder { return &encoder{Encoder: entrycodec.NewEncoder()} }

// records returns tombstones for the keys [tombFrom, tombTo] (none if
// tombFrom is 0 or tombFrom > tombTo) and for tombKeys, then the records
// holding entries:
// runs of up to maxRunEntries entries, keyed by their first index. A
// record written after a tombstone of the same key replaces it in the
// same transaction. The result is valid until the next call.
//
// raft-boltdb encodes every record it is given with a msgpack handle of
// its own, which costs microseconds whatever the record holds; a run
// spreads that cost over many entries.
func (e *encoder) records(entries []wire.Entry, tombFrom, tombTo uint64, tombKeys []uint64) ([]*raft.Log, error) {
	e.arena = e.arena[:0]
	e.logs = e.logs[:0]
	e.spans = e.spans[:0]
	for idx := tombFrom; idx <= tombTo && tombFrom != 0; idx++ {
		e.tombstone(idx)
	}
	for _, idx := range tombKeys {
		e.tombstone(idx)
	}
	for len(entries) > 0 {
		n := runLength(entries)
		run := entries[:n]
		entries = entries[n:]
		start := len(e.arena)
		var err error
		if n == 1 {
			err = e.appendEntryRecord(&run[0])
		} else {
			err = e.appendRunRecord(run)
		}
		if err != nil {
			return nil, err
		}
		e.spans = append(e.spans, [2]int{start, len(e.arena)})
		typ := typeRun
		if n == 1 {
			typ = typeEntry
		}
		e.logs = append(e.logs, raft.Log{Index: run[0].Index, Term: run[0].Term, Type: typ})
	}
	// Slice the arena only now: appending may have moved it.
	for i, sp := range e.spans {
		e.logs[i].Data = e.arena[sp[0]:sp[1]:sp[1]]
	}
	e.ptrs = e.ptrs[:0]
	for i := range e.logs {
		e.ptrs = append(e.ptrs, &e.logs[i])
	}
	return e.ptrs, nil
}

func (e *encoder) tombstone(idx uint64) {
	start := len(e.arena)
	e.arena = binary.BigEndian.AppendUint32(e.arena, e.Sum(idx, 0, byte(typeTombstone), nil))
	e.spans = append(e.spans, [2]int{start, len(e.arena)})
	e.logs = append(e.logs, raft.Log{Index: idx, Type: typeTombstone})
}

// appendEntryRecord appends the Data of a single-entry record: the
// payload, then its checksum.
func (e *encoder) appendEntryRecord(ent *wire.Entry) (err error) {
	if e.arena, err = e.AppendRecord(e.arena, ent, byte(typeEntry)); err != nil {
		return fmt.Errorf("logstore/boltdb: %w", err)
	}
	return nil
}
