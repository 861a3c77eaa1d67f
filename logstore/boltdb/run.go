package boltdb

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/wire"
)

// A run record holds consecutive entries [Index, Index+count) under the
// key of the first. Its raft.Log Term is the first entry's term and its
// Data is
//
//	count    uint32, big-endian
//	hdrsum   uint32, big-endian: checksum(Index, Term, typeRun, count)
//	count items, each:
//	  term     uvarint
//	  length   uvarint
//	  payload  the entry without Index and Term, as a single-entry record
//	           holds it (msgpack)
//	  sum      uint32, big-endian: checksum(index, term, typeEntry, payload)
//
// Each item carries the checksum a single-entry record would, so damage
// is reported against the entry it hit and the entries before it stay
// readable. A record holding one entry is written as typeEntry, as before
// runs existed, and read as a run of one.
//
// The live records of a log tile it: the record after the run at key k
// holding n entries is at key k+n. Keys inside a run either do not exist
// or hold tombstones (a replaced suffix's old keys), so a reader looking
// for the run holding index i steps back from i over missing keys and
// tombstones to the first live record (see Store.findRun).
const (
	// maxRunEntries bounds the entries of one run, and so how far back a
	// reader steps to find the run holding an index.
	maxRunEntries = 64
	// maxRunBytes closes a run once its payloads reach this size, so that
	// a run of large entries stays a reasonable bolt value.
	maxRunBytes = 256 << 10
	// runHeaderLen is the count and the header checksum.
	runHeaderLen = 8
	// minItemLen is the smallest encoded item: a one-byte term, a one-byte
	// length, an empty payload and the checksum.
	minItemLen = 6
)

// runLength returns how many of entries (at least one) the next run holds.
func runLength(entries []wire.Entry) int {
	var bytes uint64
	n := 0
	for n < len(entries) && n < maxRunEntries {
		bytes += uint64(len(entries[n].Data)) + 32
		n++
		if bytes >= maxRunBytes {
			break
		}
	}
	return n
}

// appendRunRecord appends the Data of a run record holding run.
func (e *encoder) appendRunRecord(run []wire.Entry) error {
	var count [4]byte
	binary.BigEndian.PutUint32(count[:], uint32(len(run)))
	e.arena = append(e.arena, count[:]...)
	e.arena = binary.BigEndian.AppendUint32(e.arena, e.Sum(run[0].Index, run[0].Term, byte(typeRun), count[:]))
	for i := range run {
		payload, err := e.Payload(&run[i])
		if err != nil {
			return fmt.Errorf("logstore/boltdb: %w", err)
		}
		e.arena = binary.AppendUvarint(e.arena, run[i].Term)
		e.arena = binary.AppendUvarint(e.arena, uint64(len(payload)))
		e.arena = append(e.arena, payload...)
		e.arena = binary.BigEndian.AppendUint32(e.arena, e.Sum(run[i].Index, run[i].Term, byte(typeEntry), payload))
	}
	return nil
}

// record is a stored raft.Log whose framing has been checked: a
// tombstone, or a live record holding entries [key, key+n).
type record struct {
	log       *raft.Log
	tombstone bool
	n         uint64
}

// parseRecord checks the framing of a record stored under key: its index,
// its type and, for a run, its header. A single-entry record's checksum is
// checked when its entry is read.
func parseRecord(key uint64, l *raft.Log) (record, error) {
	if l.Index != key {
		return record{}, entrycodec.Corruptf(key, "stored under its key with index %d", l.Index)
	}
	switch l.Type {
	case typeTombstone:
		if len(l.Data) != 4 || binary.BigEndian.Uint32(l.Data) != checksum(key, l.Term, typeTombstone, nil) {
			return record{}, entrycodec.Corruptf(key, "damaged tombstone")
		}
		return record{log: l, tombstone: true}, nil
	case typeEntry:
		if len(l.Data) < 4 {
			return record{}, entrycodec.Corruptf(key, "record of %d bytes is too short", len(l.Data))
		}
		return record{log: l, n: 1}, nil
	case typeRun:
		if len(l.Data) < runHeaderLen {
			return record{}, entrycodec.Corruptf(key, "run of %d bytes is too short", len(l.Data))
		}
		count := l.Data[:4]
		if binary.BigEndian.Uint32(l.Data[4:8]) != checksum(key, l.Term, typeRun, count) {
			return record{}, entrycodec.Corruptf(key, "run header checksum mismatch")
		}
		n := uint64(binary.BigEndian.Uint32(count))
		if n == 0 || n > uint64(len(l.Data)-runHeaderLen)/minItemLen || key+n < key {
			return record{}, entrycodec.Corruptf(key, "run of %d entries in %d bytes", n, len(l.Data))
		}
		return record{log: l, n: n}, nil
	}
	return record{}, entrycodec.Corruptf(key, "unknown record type %d", l.Type)
}

// entries appends to out the entries [from, to) of a live record, which
// must lie within [key, key+n). Each is checked against its checksum; a
// damaged one is an error naming its index, after the entries before it.
func (r record) entries(out []wire.Entry, from, to uint64) ([]wire.Entry, error) {
	l := r.log
	if r.n == 1 {
		ent, err := entrycodec.ParseRecord(l.Index, l.Term, byte(typeEntry), l.Data)
		if err != nil {
			return out, err
		}
		return append(out, ent), nil
	}
	b := l.Data[runHeaderLen:]
	for index := l.Index; index < to; index++ {
		term, k := binary.Uvarint(b)
		if k <= 0 {
			return out, entrycodec.Corruptf(index, "bad term in run at %d", l.Index)
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) || uint64(len(b)-k)-size < 4 {
			return out, entrycodec.Corruptf(index, "bad length in run at %d", l.Index)
		}
		payload := b[k : k+int(size)]
		b = b[k+int(size):]
		want := binary.BigEndian.Uint32(b)
		b = b[4:]
		if index == l.Index && term != l.Term {
			return out, entrycodec.Corruptf(index, "term %d, run says %d", term, l.Term)
		}
		if index < from {
			continue
		}
		if got := checksum(index, term, typeEntry, payload); got != want {
			return out, entrycodec.Corruptf(index, "checksum %08x, want %08x", got, want)
		}
		var ent wire.Entry
		if err := entrycodec.DecodePayload(payload, &ent); err != nil {
			return out, entrycodec.Corruptf(index, "decode: %v", err)
		}
		ent.Index, ent.Term = index, term
		out = append(out, ent)
	}
	return out, nil
}
