package wire

import (
	"github.com/hashicorp/go-msgpack/v2/codec"
)

// MsgpackHandle returns a new msgpack handle configured the way every
// Mandate encoder and decoder must be: struct fields by their codec tag,
// raw bytes as binary, and no time extension. Create one per encoder or
// decoder and reuse it; a handle is not safe for concurrent configuration.
func MsgpackHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.WriteExt = true
	h.RawToString = false
	h.MapType = nil
	return h
}
