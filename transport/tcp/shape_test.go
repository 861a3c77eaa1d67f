package tcp

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/mandate-raft/mandate/wire"
)

// amplificationBomb is a MsgApp whose Entries array holds n empty maps:
// n bytes on the wire, n zero entries (88 bytes each) once decoded.
func amplificationBomb(n int) []byte {
	p := []byte{0x82, 0xa1, 'y', byte(wire.MsgApp), 0xa1, 'e', 0xdd}
	p = binary.BigEndian.AppendUint32(p, uint32(n))
	for i := 0; i < n; i++ {
		p = append(p, 0x80)
	}
	return p
}

func TestShapeRefusesAmplificationBomb(t *testing.T) {
	bomb := amplificationBomb(maxArrayElements + 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := newMsgDecoder().decode(bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBadMessage) {
		t.Fatalf("a frame of %d empty entries: got %v, want ErrBadMessage", maxArrayElements+1, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("refusing it allocated %d bytes", alloc)
	}
	// Just under the limit it decodes, as an honest (if odd) message.
	if _, err := newMsgDecoder().decode(amplificationBomb(1000)); err != nil {
		t.Fatalf("1000 empty entries refused: %v", err)
	}
}

func TestShapeAcceptsLargeHonestMessages(t *testing.T) {
	mk := func(n int) wire.Message {
		entries := make([]wire.Entry, n)
		for i := range entries {
			entries[i] = wire.Entry{Index: uint64(i + 1), Term: 1, Type: wire.EntryNoop}
		}
		return wire.Message{Type: wire.MsgApp, From: "a", To: "b", Entries: entries}
	}
	// As many of the smallest entries an encoder makes as the element
	// limit allows pass the shape check.
	var one []byte
	e := wire.Entry{Index: 1, Term: 1, Type: wire.EntryNoop}
	if err := codec.NewEncoderBytes(&one, newHandle()).Encode(&e); err != nil {
		t.Fatal(err)
	}
	p := []byte{0x82, 0xa1, 'y', byte(wire.MsgApp), 0xa1, 'e', 0xdd}
	p = binary.BigEndian.AppendUint32(p, maxArrayElements)
	for i := 0; i < maxArrayElements; i++ {
		p = append(p, one...)
	}
	if err := checkShape(p); err != nil {
		t.Fatalf("an append of %d entries refused: %v", maxArrayElements, err)
	}
	m := mk(5_000)
	got, err := newMsgDecoder().decode(encodeForTest(t, m))
	if err != nil {
		t.Fatalf("an append of %d entries refused: %v", len(m.Entries), err)
	}
	if len(got.Entries) != len(m.Entries) || got.Entries[len(m.Entries)-1].Index != uint64(len(m.Entries)) {
		t.Fatalf("decoded %d entries", len(got.Entries))
	}
}

func TestShapeRefusesMalformedValues(t *testing.T) {
	for name, p := range map[string][]byte{
		"empty":            {},
		"reserved byte":    {0xc1},
		"short str8":       {0xd9, 10, 'a'},
		"short bin32":      {0xc6, 0, 0, 1, 0, 1, 2},
		"short uint64":     {0xcf, 1, 2, 3},
		"short array":      {0x93, 1, 2},
		"short map":        {0x82, 1, 2, 3},
		"array of 2^32-1":  {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},
		"map of 2^32-1":    {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0},
		"short ext16":      {0xc8, 0, 9, 1, 1},
		"short fixext16":   {0xd8, 1, 2},
		"two values":       {0xc0, 0xc0},
		"deep":             append(repeat(0x91, maxShapeDepth+1), 0xc0),
		"short length":     {0xdc, 0},
		"short fixext1":    {0xd4, 1},
		"short float":      {0xcb, 0, 0},
		"short str length": {0xdb, 0, 0},
	} {
		if err := checkShape(p); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s (% x): got %v, want ErrBadMessage", name, p, err)
		}
	}
	for name, p := range map[string][]byte{
		"nil":           {0xc0},
		"fixext16":      append([]byte{0xd8, 1}, make([]byte, 16)...),
		"ext8":          {0xc7, 2, 5, 1, 2},
		"nested at max": append(repeat(0x91, maxShapeDepth-1), 0xc0),
		"str16":         {0xda, 0, 2, 'h', 'i'},
		"negative int":  {0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if err := checkShape(p); err != nil {
			t.Errorf("%s (% x): refused: %v", name, p, err)
		}
	}
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
