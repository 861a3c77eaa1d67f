package file

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/snapshot/internal/verify"
	"github.com/mandate-raft/mandate/wire"
)

// A snapshot file is its data followed by a trailer:
//
//	data | meta (msgpack) | meta length (4) | meta CRC-32C (4) | magic (8)
//
// so that the data is written as it streams in and the metadata, known
// only at the end, goes after it in the same file: one fsync and one
// rename make both durable and visible together.
const (
	footerLen = 16
	magic     = "MANDSNP1"
	maxMeta   = 16 << 20
)

// trailer is what the metadata part of a snapshot file holds.
type trailer struct {
	Meta wire.SnapshotMeta `codec:"m"`
	// Seq orders snapshots of the same index by creation, within a directory.
	Seq uint64 `codec:"q"`
}

func encodeTrailer(tr trailer) ([]byte, error) {
	var meta []byte
	if err := codec.NewEncoderBytes(&meta, wire.MsgpackHandle()).Encode(&tr); err != nil {
		return nil, fmt.Errorf("snapshot/file: encode metadata: %w", err)
	}
	out := append([]byte(nil), meta...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(meta)))
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(meta, verify.Castagnoli))
	return append(out, magic...), nil
}

// readTrailer reads and checks the trailer of a file of the given size.
// Any inconsistency is an error wrapping snapshot.ErrCorrupt.
func readTrailer(f File, size int64) (trailer, error) {
	var tr trailer
	if size < footerLen {
		return tr, fmt.Errorf("%w: file of %d bytes has no trailer", snapshot.ErrCorrupt, size)
	}
	var foot [footerLen]byte
	if _, err := f.ReadAt(foot[:], size-footerLen); err != nil {
		return tr, fmt.Errorf("snapshot/file: read trailer: %w", err)
	}
	if !bytes.Equal(foot[8:], []byte(magic)) {
		return tr, fmt.Errorf("%w: no snapshot trailer (bad magic)", snapshot.ErrCorrupt)
	}
	metaLen := int64(binary.BigEndian.Uint32(foot[0:]))
	if metaLen > maxMeta || metaLen > size-footerLen {
		return tr, fmt.Errorf("%w: metadata length %d in a file of %d bytes", snapshot.ErrCorrupt, metaLen, size)
	}
	meta := make([]byte, metaLen)
	if _, err := f.ReadAt(meta, size-footerLen-metaLen); err != nil {
		return tr, fmt.Errorf("snapshot/file: read metadata: %w", err)
	}
	if got, want := crc32.Checksum(meta, verify.Castagnoli), binary.BigEndian.Uint32(foot[4:]); got != want {
		return tr, fmt.Errorf("%w: metadata checksum %08x, want %08x", snapshot.ErrCorrupt, got, want)
	}
	if err := codec.NewDecoderBytes(meta, wire.MsgpackHandle()).Decode(&tr); err != nil {
		return tr, fmt.Errorf("%w: metadata does not decode: %v", snapshot.ErrCorrupt, err)
	}
	if dataLen := size - footerLen - metaLen; tr.Meta.Size != dataLen {
		return tr, fmt.Errorf("%w: metadata says %d bytes of data, the file holds %d", snapshot.ErrCorrupt, tr.Meta.Size, dataLen)
	}
	return tr, nil
}
