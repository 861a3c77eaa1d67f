package boltdb

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// How a stored raft.Log is used. The values are far from hashicorp/raft's
// own log types so that a file written by something else is reported as
// corrupt rather than misread.
const (
	// typeEntry marks a log record holding one wire.Entry.
	typeEntry raft.LogType = 0xA0
	// typeTombstone marks a log record that is no longer part of the log:
	// a key of a replaced suffix or of a compacted prefix, overwritten in
	// the same transaction as the write that made it stale, so that the
	// replacement is atomic.
	typeTombstone raft.LogType = 0xA1
	// typeRun marks a log record holding a run of consecutive entries
	// starting at the record's Index (see run.go).
	typeRun raft.LogType = 0xA2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum covers everything of a record that carries meaning: its index,
// term and type (kept in raft.Log's own fields) and the encoded entry.
func checksum(index, term uint64, typ raft.LogType, payload []byte) uint32 {
	return checksumWith(new([17]byte), index, term, typ, payload)
}

// checksumWith is checksum with the caller's scratch space for the header:
// crc32 takes its input through a function value, so a header on the
// stack would escape and cost an allocation per call.
func checksumWith(hdr *[17]byte, index, term uint64, typ raft.LogType, payload []byte) uint32 {
	binary.BigEndian.PutUint64(hdr[0:], index)
	binary.BigEndian.PutUint64(hdr[8:], term)
	hdr[16] = byte(typ)
	return crc32.Update(crc32.Checksum(hdr[:], castagnoli), castagnoli, payload)
}

// encoder turns entries into raft.Log records. It reuses its handle and
// buffers, so it belongs to one writer at a time.
type encoder struct {
	h       *codec.MsgpackHandle
	scratch []byte
	enc     *codec.Encoder
	arena   []byte
	hdr     [17]byte
	spans   [][2]int
	logs    []raft.Log
	ptrs    []*raft.Log
}

func newEncoder() *encoder {
	e := &encoder{h: wire.MsgpackHandle()}
	e.enc = codec.NewEncoderBytes(&e.scratch, e.h)
	return e
}

// payload encodes ent without its Index and Term (which the record keeps
// elsewhere) into e.scratch.
func (e *encoder) payload(ent *wire.Entry) error {
	var ok bool
	if e.scratch, ok = appendPayload(e.scratch[:0], ent); ok {
		return nil
	}
	c := *ent
	c.Index, c.Term = 0, 0
	e.scratch = e.scratch[:0]
	e.enc.ResetBytes(&e.scratch)
	if err := e.enc.Encode(&c); err != nil {
		return fmt.Errorf("logstore/boltdb: encode entry %d: %w", ent.Index, err)
	}
	return nil
}

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
	e.arena = binary.BigEndian.AppendUint32(e.arena, checksumWith(&e.hdr, idx, 0, typeTombstone, nil))
	e.spans = append(e.spans, [2]int{start, len(e.arena)})
	e.logs = append(e.logs, raft.Log{Index: idx, Type: typeTombstone})
}

// appendEntryRecord appends the Data of a single-entry record: the
// payload, then its checksum.
func (e *encoder) appendEntryRecord(ent *wire.Entry) error {
	if err := e.payload(ent); err != nil {
		return err
	}
	e.arena = append(e.arena, e.scratch...)
	e.arena = binary.BigEndian.AppendUint32(e.arena, checksumWith(&e.hdr, ent.Index, ent.Term, typeEntry, e.scratch))
	return nil
}

// decoders are pooled: decoding happens on many reader goroutines.
var decoders = sync.Pool{New: func() any {
	return codec.NewDecoderBytes(nil, wire.MsgpackHandle())
}}

// decodePayload decodes an entry's payload (the entry without Index and
// Term) into ent.
func decodePayload(payload []byte, ent *wire.Entry) error {
	dec := decoders.Get().(*codec.Decoder)
	dec.ResetBytes(payload)
	err := dec.Decode(ent)
	dec.ResetBytes(nil)
	decoders.Put(dec)
	return err
}

// encodeHardState returns hs as one value: msgpack, then its CRC-32C.
func encodeHardState(hs wire.HardState) ([]byte, error) {
	var out []byte
	if err := codec.NewEncoderBytes(&out, wire.MsgpackHandle()).Encode(&hs); err != nil {
		return nil, fmt.Errorf("logstore/boltdb: encode hard state: %w", err)
	}
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli)), nil
}

func decodeHardState(b []byte) (wire.HardState, error) {
	var hs wire.HardState
	if len(b) < 4 {
		return hs, fmt.Errorf("%w: hard state of %d bytes is too short", logstore.ErrCorrupt, len(b))
	}
	payload := b[:len(b)-4]
	if got, want := crc32.Checksum(payload, castagnoli), binary.BigEndian.Uint32(b[len(b)-4:]); got != want {
		return hs, fmt.Errorf("%w: hard state checksum %08x, want %08x", logstore.ErrCorrupt, got, want)
	}
	if err := codec.NewDecoderBytes(payload, wire.MsgpackHandle()).Decode(&hs); err != nil {
		return hs, fmt.Errorf("%w: hard state: decode: %v", logstore.ErrCorrupt, err)
	}
	return hs, nil
}
