package session

import (
	"encoding/binary"
	"fmt"
)

// magic starts every envelope. 0xc1 is the one byte msgpack never emits, so
// a msgpack-encoded command cannot collide with it.
var magic = [4]byte{0xc1, 'M', 'S', 'E'}

const envelopeVersion = 1

// MaxClientIDLen is the longest client id an envelope may carry, in bytes.
const MaxClientIDLen = 256

// Envelope is one command of a client session.
type Envelope struct {
	// Client identifies the session: any non-empty string of at most
	// MaxClientIDLen bytes, unique among live clients (a random UUID, or a
	// request id used for a single command).
	Client string
	// Seq numbers the client's commands from 1; a retry reuses its Seq.
	Seq uint64
	// Ack is the lowest sequence whose reply the client has not received;
	// 0 means the same as 1. It must not exceed Seq.
	Ack uint64
	// Payload is the command handed to the inner FSM.
	Payload []byte
}

// IsEnvelope reports whether data starts with the envelope prefix, that is,
// whether the session layer will treat it as an envelope rather than pass
// it through.
func IsEnvelope(data []byte) bool {
	return len(data) >= len(magic) && [4]byte(data[:4]) == magic
}

// Encode returns the envelope's wire form.
func (e Envelope) Encode() []byte {
	return e.AppendTo(make([]byte, 0, len(magic)+1+3*binary.MaxVarintLen64+len(e.Client)+len(e.Payload)))
}

// AppendTo appends the envelope's wire form to dst and returns the result.
func (e Envelope) AppendTo(dst []byte) []byte {
	dst = append(dst, magic[:]...)
	dst = append(dst, envelopeVersion)
	dst = binary.AppendUvarint(dst, uint64(len(e.Client)))
	dst = append(dst, e.Client...)
	dst = binary.AppendUvarint(dst, e.Seq)
	dst = binary.AppendUvarint(dst, e.Ack)
	return append(dst, e.Payload...)
}

// DecodeEnvelope parses an envelope and checks it is well formed. Payload
// aliases data. Every failure wraps ErrBadEnvelope.
func DecodeEnvelope(data []byte) (Envelope, error) {
	if !IsEnvelope(data) {
		return Envelope{}, fmt.Errorf("%w: missing prefix", ErrBadEnvelope)
	}
	b := data[len(magic):]
	if len(b) == 0 || b[0] != envelopeVersion {
		return Envelope{}, fmt.Errorf("%w: unknown version", ErrBadEnvelope)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return Envelope{}, fmt.Errorf("%w: bad client id length", ErrBadEnvelope)
	}
	b = b[k:]
	if n == 0 || n > MaxClientIDLen || n > uint64(len(b)) {
		return Envelope{}, fmt.Errorf("%w: client id length %d (want 1..%d)", ErrBadEnvelope, n, MaxClientIDLen)
	}
	e := Envelope{Client: string(b[:n])}
	b = b[n:]
	if e.Seq, k = binary.Uvarint(b); k <= 0 {
		return Envelope{}, fmt.Errorf("%w: bad sequence", ErrBadEnvelope)
	}
	b = b[k:]
	if e.Ack, k = binary.Uvarint(b); k <= 0 {
		return Envelope{}, fmt.Errorf("%w: bad ack", ErrBadEnvelope)
	}
	e.Payload = b[k:]
	if e.Seq == 0 {
		return Envelope{}, fmt.Errorf("%w: sequence 0 (sequences start at 1)", ErrBadEnvelope)
	}
	if e.Ack > e.Seq {
		return Envelope{}, fmt.Errorf("%w: ack %d above sequence %d", ErrBadEnvelope, e.Ack, e.Seq)
	}
	return e, nil
}
