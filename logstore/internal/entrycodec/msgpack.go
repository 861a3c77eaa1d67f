package entrycodec

import (
	"encoding/binary"
	"math"

	"github.com/mandate-raft/mandate/wire"
)

// appendPayload appends the stored payload of e (e with Index and Term
// zeroed, which the record keeps in its own fields; e itself is not
// changed) exactly as the codec
// with wire.MsgpackHandle writes it: a map of the fields, the empty
// omitempty ones left out, keys ordered by name. The reflection-driven
// codec costs microseconds per entry on the append path; this costs tens
// of nanoseconds. It reports false for an entry carrying a configuration,
// which the caller encodes with the codec (such entries are rare).
// entryenc_test.go holds it to the codec's bytes.
func appendPayload(b []byte, e *wire.Entry) ([]byte, bool) {
	if e.Config != nil {
		return b, false
	}
	n := 3 // i, t, y are always written
	for _, set := range [...]bool{len(e.Data) > 0, e.Origin != "", e.ProposalID != 0, e.Time != 0} {
		if set {
			n++
		}
	}
	b = append(b, 0x80|byte(n)) // fixmap: at most 7 pairs
	if len(e.Data) > 0 {
		b = append(b, 0xa1, 'd')
		b = appendMPLen(b, len(e.Data), 0xc4, 0xc5, 0xc6)
		b = append(b, e.Data...)
	}
	b = append(b, 0xa1, 'i', 0x00)
	if e.Origin != "" {
		b = append(b, 0xa1, 'o')
		if len(e.Origin) < 32 {
			b = append(b, 0xa0|byte(len(e.Origin)))
		} else {
			b = appendMPLen(b, len(e.Origin), 0xd9, 0xda, 0xdb)
		}
		b = append(b, e.Origin...)
	}
	if e.ProposalID != 0 {
		b = appendMPUint(append(b, 0xa1, 'p'), e.ProposalID)
	}
	b = append(b, 0xa1, 't', 0x00)
	if e.Time != 0 {
		b = appendMPInt(append(b, 0xa1, 'w'), e.Time)
	}
	return appendMPUint(append(b, 0xa1, 'y'), uint64(e.Type)), true
}

// appendMPLen writes a str or bin header in its 8, 16 or 32-bit form.
func appendMPLen(b []byte, n int, f8, f16, f32 byte) []byte {
	switch {
	case n < 1<<8:
		return append(b, f8, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, f16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, f32), uint32(n))
}

// appendMPUint writes v in the smallest unsigned form, as the codec does.
func appendMPUint(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// appendMPInt writes v in the smallest signed form, as the codec does.
func appendMPInt(b []byte, v int64) []byte {
	switch {
	case v > math.MaxInt8:
		if v <= math.MaxInt16 {
			return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
		} else if v <= math.MaxInt32 {
			return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}
