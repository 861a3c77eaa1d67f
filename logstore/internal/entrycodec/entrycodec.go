// Package entrycodec is the byte form in which the durable log stores keep
// an entry and the hard state, so that every on-disk store checks and
// decodes them the same way.
//
// An entry record is the entry without its Index and Term (the store keeps
// those in its own record fields), encoded as msgpack with
// wire.MsgpackHandle, followed by a CRC-32C (big-endian) of the index, the
// term, the record type and that payload. A flipped bit is reported as an
// error wrapping logstore.ErrCorrupt that names the entry, never handed to
// the FSM. The hard state is msgpack followed by its CRC-32C.
package entrycodec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// TypeEntry is the record type of a record holding one entry. It is far
// from hashicorp/raft's own log types so that a file written by something
// else is reported as corrupt rather than misread.
const TypeEntry byte = 0xA0

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum covers everything of a record that carries meaning: its index,
// term and type and the encoded payload.
func Checksum(index, term uint64, typ byte, payload []byte) uint32 {
	return new(Checksummer).Sum(index, term, typ, payload)
}

// Checksummer computes Checksum with scratch space of its own for the
// header: crc32 takes its input through a function value, so a header on
// the stack would escape and cost an allocation per call. It belongs to
// one goroutine at a time.
type Checksummer struct{ hdr [17]byte }

// Sum returns Checksum(index, term, typ, payload).
func (c *Checksummer) Sum(index, term uint64, typ byte, payload []byte) uint32 {
	binary.BigEndian.PutUint64(c.hdr[0:], index)
	binary.BigEndian.PutUint64(c.hdr[8:], term)
	c.hdr[16] = typ
	return crc32.Update(crc32.Checksum(c.hdr[:], castagnoli), castagnoli, payload)
}

// Encoder encodes entry payloads, reusing its handle and buffer, so it
// belongs to one writer at a time.
type Encoder struct {
	Checksummer
	scratch []byte
	enc     *codec.Encoder
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.enc = codec.NewEncoderBytes(&e.scratch, wire.MsgpackHandle())
	return e
}

// Payload returns ent encoded without its Index and Term. The bytes are
// valid until the next call.
func (e *Encoder) Payload(ent *wire.Entry) ([]byte, error) {
	var ok bool
	if e.scratch, ok = appendPayload(e.scratch[:0], ent); ok {
		return e.scratch, nil
	}
	c := *ent
	c.Index, c.Term = 0, 0
	e.scratch = e.scratch[:0]
	e.enc.ResetBytes(&e.scratch)
	if err := e.enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("encode entry %d: %w", ent.Index, err)
	}
	return e.scratch, nil
}

// AppendRecord appends to dst the record of ent with type typ: its
// payload, then the checksum.
func (e *Encoder) AppendRecord(dst []byte, ent *wire.Entry, typ byte) ([]byte, error) {
	payload, err := e.Payload(ent)
	if err != nil {
		return dst, err
	}
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, e.Sum(ent.Index, ent.Term, typ, payload)), nil
}

// ParseRecord checks a record written by AppendRecord for the entry at
// index with term and type typ and returns the entry. Damage is an error
// wrapping logstore.ErrCorrupt that names the index.
func ParseRecord(index, term uint64, typ byte, data []byte) (wire.Entry, error) {
	if len(data) < 4 {
		return wire.Entry{}, Corruptf(index, "record of %d bytes is too short", len(data))
	}
	payload := data[:len(data)-4]
	want := binary.BigEndian.Uint32(data[len(data)-4:])
	if got := Checksum(index, term, typ, payload); got != want {
		return wire.Entry{}, Corruptf(index, "checksum %08x, want %08x", got, want)
	}
	var ent wire.Entry
	if err := DecodePayload(payload, &ent); err != nil {
		return wire.Entry{}, Corruptf(index, "decode: %v", err)
	}
	ent.Index, ent.Term = index, term
	return ent, nil
}

// Corruptf returns an error wrapping logstore.ErrCorrupt about entry index.
func Corruptf(index uint64, format string, args ...any) error {
	return fmt.Errorf("%w: entry %d: %s", logstore.ErrCorrupt, index, fmt.Sprintf(format, args...))
}

// decoders are pooled: decoding happens on many reader goroutines.
var decoders = sync.Pool{New: func() any {
	return codec.NewDecoderBytes(nil, wire.MsgpackHandle())
}}

// DecodePayload decodes an entry's payload (the entry without Index and
// Term) into ent.
func DecodePayload(payload []byte, ent *wire.Entry) error {
	dec := decoders.Get().(*codec.Decoder)
	dec.ResetBytes(payload)
	err := dec.Decode(ent)
	dec.ResetBytes(nil)
	decoders.Put(dec)
	return err
}

// EncodeHardState returns hs as one value: msgpack, then its CRC-32C.
func EncodeHardState(hs wire.HardState) ([]byte, error) {
	var out []byte
	if err := codec.NewEncoderBytes(&out, wire.MsgpackHandle()).Encode(&hs); err != nil {
		return nil, fmt.Errorf("encode hard state: %w", err)
	}
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli)), nil
}

// DecodeHardState reverses EncodeHardState; damage is an error wrapping
// logstore.ErrCorrupt.
func DecodeHardState(b []byte) (wire.HardState, error) {
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
