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
	// typeEntry marks a log record holding a wire.Entry.
	typeEntry raft.LogType = 0xA0
	// typeTombstone marks a log record that is no longer part of the log:
	// the stale tail of a replaced suffix, overwritten in the same
	// transaction as the new entries so that the replacement is atomic.
	typeTombstone raft.LogType = 0xA1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum covers everything of a record that carries meaning: its index,
// term and type (kept in raft.Log's own fields) and the encoded entry.
func checksum(index, term uint64, typ raft.LogType, payload []byte) uint32 {
	var hdr [17]byte
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
	logs    []raft.Log
	ptrs    []*raft.Log
}

func newEncoder() *encoder {
	e := &encoder{h: wire.MsgpackHandle()}
	e.enc = codec.NewEncoderBytes(&e.scratch, e.h)
	return e
}

// records returns the records for entries followed by tombstones for
// indexes [tombFrom, tombTo] (none if tombFrom > tombTo). The result is
// valid until the next call.
func (e *encoder) records(entries []wire.Entry, tombFrom, tombTo uint64) ([]*raft.Log, error) {
	e.arena = e.arena[:0]
	e.logs = e.logs[:0]
	spans := make([][2]int, 0, len(entries))
	for i := range entries {
		ent := entries[i]
		// Index and Term live in the record's own fields; zero them in the
		// payload so they are not stored twice.
		ent.Index, ent.Term = 0, 0
		var ok bool
		if e.scratch, ok = appendPayload(e.scratch[:0], &ent); !ok {
			e.scratch = e.scratch[:0]
			e.enc.ResetBytes(&e.scratch)
			if err := e.enc.Encode(&ent); err != nil {
				return nil, fmt.Errorf("logstore/boltdb: encode entry %d: %w", entries[i].Index, err)
			}
		}
		start := len(e.arena)
		e.arena = append(e.arena, e.scratch...)
		sum := checksum(entries[i].Index, entries[i].Term, typeEntry, e.scratch)
		e.arena = binary.BigEndian.AppendUint32(e.arena, sum)
		spans = append(spans, [2]int{start, len(e.arena)})
		e.logs = append(e.logs, raft.Log{Index: entries[i].Index, Term: entries[i].Term, Type: typeEntry})
	}
	// Slice the arena only now: appending may have moved it.
	for i, sp := range spans {
		e.logs[i].Data = e.arena[sp[0]:sp[1]:sp[1]]
	}
	for idx := tombFrom; idx <= tombTo && tombFrom != 0; idx++ {
		e.logs = append(e.logs, raft.Log{Index: idx, Type: typeTombstone,
			Data: binary.BigEndian.AppendUint32(nil, checksum(idx, 0, typeTombstone, nil))})
	}
	e.ptrs = e.ptrs[:0]
	for i := range e.logs {
		e.ptrs = append(e.ptrs, &e.logs[i])
	}
	return e.ptrs, nil
}

// decoders are pooled: decoding happens on many reader goroutines.
var decoders = sync.Pool{New: func() any {
	return codec.NewDecoderBytes(nil, wire.MsgpackHandle())
}}

// decodeRecord checks a stored record and returns its entry. wantIndex is
// the key it was stored under. A tombstone returns ok false.
func decodeRecord(wantIndex uint64, l *raft.Log) (ent wire.Entry, ok bool, err error) {
	corrupt := func(why string, args ...any) error {
		return fmt.Errorf("%w: entry %d: %s", logstore.ErrCorrupt, wantIndex, fmt.Sprintf(why, args...))
	}
	if l.Index != wantIndex {
		return ent, false, corrupt("stored under its key with index %d", l.Index)
	}
	if l.Type != typeEntry && l.Type != typeTombstone {
		return ent, false, corrupt("unknown record type %d", l.Type)
	}
	if len(l.Data) < 4 {
		return ent, false, corrupt("record of %d bytes is too short", len(l.Data))
	}
	payload := l.Data[:len(l.Data)-4]
	want := binary.BigEndian.Uint32(l.Data[len(l.Data)-4:])
	if got := checksum(l.Index, l.Term, l.Type, payload); got != want {
		return ent, false, corrupt("checksum %08x, want %08x", got, want)
	}
	if l.Type == typeTombstone {
		return ent, false, nil
	}
	dec := decoders.Get().(*codec.Decoder)
	dec.ResetBytes(payload)
	err = dec.Decode(&ent)
	dec.ResetBytes(nil)
	decoders.Put(dec)
	if err != nil {
		return wire.Entry{}, false, corrupt("decode: %v", err)
	}
	ent.Index, ent.Term = l.Index, l.Term
	return ent, true, nil
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
