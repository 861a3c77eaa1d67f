package entrycodec

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/mandate-raft/mandate/wire"
)

// The hand-written payload encoder writes, byte for byte, what the codec
// writes for the same entry, across every length and integer form.
func TestPayloadEncoderWritesTheCodecsBytes(t *testing.T) {
	var ents []wire.Entry
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		ents = append(ents, wire.Entry{Type: wire.EntryNormal, Data: bytes.Repeat([]byte{7}, n)})
	}
	for _, id := range []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64} {
		ents = append(ents, wire.Entry{Type: wire.EntryNormal, Data: []byte("x"), ProposalID: id})
	}
	for _, w := range []int64{0, 1, -1, -32, -33, 127, 128, -128, -129, 32767, 32768, -32768, -32769,
		math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64, 1_764_000_000_000_000_000} {
		ents = append(ents, wire.Entry{Type: wire.EntryNoop, Time: w})
	}
	for _, o := range []string{"", "n1", strings.Repeat("o", 31), strings.Repeat("o", 32), strings.Repeat("o", 300)} {
		ents = append(ents, wire.Entry{Type: wire.EntryNormal, Origin: wire.NodeID(o), ProposalID: 9, Time: 5})
	}
	ents = append(ents, wire.Entry{Type: 200, Data: []byte("all"), Origin: "n3", ProposalID: 1 << 40, Time: -7})

	h := wire.MsgpackHandle()
	for i := range ents {
		var want []byte
		if err := codec.NewEncoderBytes(&want, h).Encode(&ents[i]); err != nil {
			t.Fatal(err)
		}
		got, ok := appendPayload(nil, &ents[i])
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("entry %+v:\n got %x\nwant %x", ents[i], got, want)
		}
	}
	// The record keeps Index and Term: the payload leaves them zero
	// whatever the entry holds.
	full := wire.Entry{Index: 1 << 40, Term: 300, Type: wire.EntryNormal, Data: []byte("x"), Origin: "n1", ProposalID: 7, Time: 9}
	zeroed := full
	zeroed.Index, zeroed.Term = 0, 0
	var want []byte
	if err := codec.NewEncoderBytes(&want, h).Encode(&zeroed); err != nil {
		t.Fatal(err)
	}
	if got, ok := appendPayload(nil, &full); !ok || !bytes.Equal(got, want) {
		t.Fatalf("entry %+v:\n got %x\nwant %x (its index and term zeroed)", full, got, want)
	}
	conf := wire.Entry{Type: wire.EntryConfig, Config: &wire.Configuration{}}
	if _, ok := appendPayload(nil, &conf); ok {
		t.Fatal("a configuration entry was encoded by hand; want the codec")
	}
}
