package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/mandate-raft/mandate/wire"
)

// A snapshot lane carries one snapshot stream. The sender opens with a
// header; the receiver answers with the offset to start from (0 for a new
// stream, its last good offset for a resumed one) or, if it already has
// the outcome, the verdict; then chunks flow, each with its offset and a
// CRC-32C of its data; an end frame closes the stream and the receiver
// answers with its verdict once its handler has returned.
//
//	header:  1 | transfer id u64 | total u64 | msgpack MsgSnap
//	resume:  2 | offset u64
//	chunk:   3 | offset u64 | crc32c u32 | data
//	end:     4 | total u64
//	verdict: 5 | status byte (0 = stored) | reason
const (
	snapHeader  byte = 1
	snapResume  byte = 2
	snapChunk   byte = 3
	snapEnd     byte = 4
	snapVerdict byte = 5
)

// chunkHeaderLen is the bytes of a chunk frame before its data.
const chunkHeaderLen = 1 + 8 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of snapshot streams.
var (
	// ErrSnapshotRejected is wrapped by SendSnapshot's error when the
	// receiver's handler failed; the error's text carries its reason.
	ErrSnapshotRejected = errors.New("tcp: snapshot rejected by receiver")
	// ErrBadSnapshotFrame means a snapshot lane carried a malformed frame.
	ErrBadSnapshotFrame = errors.New("tcp: bad snapshot frame")
	// errChunkCorrupt means a chunk's data did not match its checksum.
	errChunkCorrupt = errors.New("tcp: snapshot chunk checksum mismatch")
)

// transferKey names one SendSnapshot call: the sender and a random id,
// so that a resumed stream finds its receiver and two calls never mix.
type transferKey struct {
	from wire.NodeID
	id   uint64
}

func encodeSnapHeader(id uint64, total int64, msg []byte) []byte {
	b := make([]byte, 0, 17+len(msg))
	b = append(b, snapHeader)
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint64(b, uint64(total))
	return append(b, msg...)
}

func decodeSnapHeader(p []byte, dec *msgDecoder) (id uint64, total int64, m wire.Message, err error) {
	if len(p) < 17 || p[0] != snapHeader {
		return 0, 0, m, fmt.Errorf("%w: expected a header", ErrBadSnapshotFrame)
	}
	id = binary.BigEndian.Uint64(p[1:9])
	total = int64(binary.BigEndian.Uint64(p[9:17]))
	if total < 0 {
		return 0, 0, m, fmt.Errorf("%w: negative size", ErrBadSnapshotFrame)
	}
	if m, err = dec.decode(p[17:]); err != nil {
		return 0, 0, m, err
	}
	if m.Type != wire.MsgSnap || m.Snapshot == nil {
		return 0, 0, m, fmt.Errorf("%w: header carries %s, not a MsgSnap with metadata", ErrBadSnapshotFrame, m.Type)
	}
	return id, total, m, nil
}

func encodeOffsetFrame(kind byte, off int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kind}, uint64(off))
}

func decodeOffsetFrame(p []byte, kind byte) (int64, error) {
	if len(p) != 9 || p[0] != kind {
		return 0, fmt.Errorf("%w: expected frame %d", ErrBadSnapshotFrame, kind)
	}
	off := int64(binary.BigEndian.Uint64(p[1:]))
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset", ErrBadSnapshotFrame)
	}
	return off, nil
}

// fillChunk writes a chunk header into b[:chunkHeaderLen] for the data in
// b[chunkHeaderLen:].
func fillChunk(b []byte, off int64) {
	b[0] = snapChunk
	binary.BigEndian.PutUint64(b[1:9], uint64(off))
	binary.BigEndian.PutUint32(b[9:13], crc32.Checksum(b[chunkHeaderLen:], castagnoli))
}

// decodeChunk checks a chunk frame and returns its offset and data.
func decodeChunk(p []byte) (int64, []byte, error) {
	if len(p) < chunkHeaderLen || p[0] != snapChunk {
		return 0, nil, fmt.Errorf("%w: expected a chunk", ErrBadSnapshotFrame)
	}
	off := int64(binary.BigEndian.Uint64(p[1:9]))
	data := p[chunkHeaderLen:]
	if crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(p[9:13]) {
		return 0, nil, fmt.Errorf("%w at offset %d", errChunkCorrupt, off)
	}
	return off, data, nil
}

func encodeVerdictFrame(err error) []byte {
	if err == nil {
		return []byte{snapVerdict, 0}
	}
	reason := err.Error()
	if len(reason) > 4096 {
		reason = reason[:4096]
	}
	return append([]byte{snapVerdict, 1}, reason...)
}

// decodeVerdictFrame returns the verdict a receiver sent (nil when it
// stored the snapshot, an error wrapping ErrSnapshotRejected otherwise),
// or err if p is not a verdict.
func decodeVerdictFrame(p []byte) (verdict, err error) {
	if len(p) < 2 || p[0] != snapVerdict {
		return nil, fmt.Errorf("%w: expected a verdict", ErrBadSnapshotFrame)
	}
	if p[1] == 0 {
		return nil, nil
	}
	return fmt.Errorf("%w: %s", ErrSnapshotRejected, p[2:]), nil
}
