package tcp

import (
	"bytes"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// plainEncode is what the codec alone writes for m.
func plainEncode(t testing.TB, m *wire.Message) []byte {
	var b []byte
	if err := codec.NewEncoderBytes(&b, wire.MsgpackHandle()).Encode(m); err != nil {
		t.Fatal(err)
	}
	return b
}

// edgeEntries exercises every size class of every field.
func edgeEntries(rng *rand.Rand, n int) []wire.Entry {
	uints := []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	ints := []int64{0, 1, -1, -32, -33, 127, 128, -128, -129, 32767, 32768, -32768, -32769, math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64, 1_700_000_000_123_456_789}
	sizes := []int{0, 1, 31, 32, 255, 256, 65535, 65536}
	pick := func(xs []int) int { return xs[rng.Intn(len(xs))] }
	var es []wire.Entry
	for i := 0; i < n; i++ {
		e := wire.Entry{
			Index: uints[rng.Intn(len(uints))], Term: uints[rng.Intn(len(uints))],
			Type: wire.EntryType(rng.Intn(3)), ProposalID: uints[rng.Intn(len(uints))], Time: ints[rng.Intn(len(ints))],
		}
		if d := pick(sizes); d > 0 {
			e.Data = make([]byte, d)
			rng.Read(e.Data)
		}
		e.Origin = wire.NodeID(strings.Repeat("o", pick(sizes[:6])))
		switch rng.Intn(4) {
		case 1:
			e.Config = &wire.Configuration{}
		case 2:
			e.Config = &wire.Configuration{Servers: []wire.Server{}}
		case 3:
			e.Config = &wire.Configuration{Servers: []wire.Server{
				{ID: "n1", Address: strings.Repeat("a", pick(sizes[:6])), Role: wire.Voter},
				{ID: wire.NodeID(strings.Repeat("x", pick(sizes[:6]))), Role: wire.Learner},
			}}
		}
		es = append(es, e)
	}
	return es
}

// The fast path writes exactly the bytes the codec writes, so any
// msgpack reader that understands a wire.Message understands our frames.
func TestFastEntriesAreTheCodecsBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	msgs := transporttest.Messages("a", "b")
	for i := 0; i < 50; i++ {
		msgs = append(msgs, wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: uint64(i), Entries: edgeEntries(rng, 1+rng.Intn(20))})
	}
	// 65536 entries take the 32-bit array header.
	many := make([]wire.Entry, 65536)
	for i := range many {
		many[i] = wire.Entry{Index: uint64(i), Term: 2}
	}
	msgs = append(msgs, wire.Message{Type: wire.MsgApp, From: "a", To: "b", Entries: many})
	enc := newMsgEncoder()
	for i, m := range msgs {
		got, err := enc.encode(&m)
		if err != nil {
			t.Fatal(err)
		}
		if want := plainEncode(t, &m); !bytes.Equal(got, want) {
			t.Fatalf("message %d (%d entries): fast path wrote %d bytes, the codec %d; first difference at %d", i, len(m.Entries), len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// What the codec writes, the fast path reads back unchanged.
func TestFastEntriesReadTheCodecsBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	dec := newMsgDecoder()
	for i := 0; i < 50; i++ {
		m := wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 3, Entries: edgeEntries(rng, 1+rng.Intn(20))}
		got, err := dec.decode(plainEncode(t, &m))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		// Empty Data and Origin are omitted on the wire, so compare what
		// both encode to rather than nil against empty slices.
		if !bytes.Equal(plainEncode(t, &got), plainEncode(t, &m)) {
			t.Fatalf("message %d changed across the fast path", i)
		}
		for j := range m.Entries {
			if !bytes.Equal(got.Entries[j].Data, m.Entries[j].Data) || got.Entries[j].Time != m.Entries[j].Time {
				t.Fatalf("message %d entry %d: got %+v, want %+v", i, j, got.Entries[j], m.Entries[j])
			}
		}
	}
}

// The fast reader accepts the other forms a msgpack encoder may choose:
// wider integers than needed, str for bytes, nil for zero, fields in any
// order, fields it does not know.
func TestFastEntriesAcceptOtherEncodings(t *testing.T) {
	in := []byte{0x91, // array of 1
		0x87,                                    // map of 7
		0xa1, 'y', 0xd3, 0, 0, 0, 0, 0, 0, 0, 1, // type as int64
		0xa1, 'i', 0xcf, 0, 0, 0, 0, 0, 0, 0, 5, // index as uint64
		0xa1, 't', 0xc0, // term nil
		0xa1, 'd', 0xa2, 'h', 'i', // data as str
		0xa1, 'z', 0x92, 0x01, 0x80, // unknown field
		0xa1, 'w', 0xe0, // time -32 as negfixint
		0xa1, 'c', 0x81, 0xa1, 's', 0x91, 0x83, 0xa1, 'r', 0x01, 0xa1, 'a', 0xc4, 1, 'x', 0xa2, 'i', 'd', 0xa1, 'n',
	}
	es, err := parseEntries(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.Entry{{Index: 5, Type: wire.EntryNoop, Data: []byte("hi"), Time: -32,
		Config: &wire.Configuration{Servers: []wire.Server{{ID: "n", Address: "x", Role: wire.Learner}}}}}
	if !reflect.DeepEqual(es, want) {
		t.Fatalf("got %+v, want %+v", es, want)
	}
	for name, bad := range map[string][]byte{
		"type overflow":     {0x91, 0x81, 0xa1, 'y', 0xcd, 1, 0},
		"negative index":    {0x91, 0x81, 0xa1, 'i', 0xff},
		"key not a string":  {0x91, 0x81, 0x01, 0x01},
		"entry not a map":   {0x91, 0x93, 1, 2, 3},
		"truncated data":    {0x91, 0x81, 0xa1, 'd', 0xc4, 9, 1},
		"array too long":    {0xdd, 0xff, 0xff, 0xff, 0xff, 0x80},
		"trailing bytes":    {0x90, 0x00},
		"time out of range": {0x91, 0x81, 0xa1, 'w', 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"server not a map":  {0x91, 0x81, 0xa1, 'c', 0x81, 0xa1, 's', 0x91, 0x01},
	} {
		if _, err := parseEntries(bad); err == nil {
			t.Errorf("%s: accepted % x", name, bad)
		}
	}
}

func entrySeeds(t testing.TB) [][]byte {
	rng := rand.New(rand.NewSource(9))
	var seeds [][]byte
	for i := 0; i < 6; i++ {
		es := edgeEntries(rng, 1+i)
		for j := range es {
			if len(es[j].Data) > 40 {
				es[j].Data = es[j].Data[:40] // small seeds fuzz faster
			}
		}
		seeds = append(seeds, appendEntries(nil, es))
	}
	return append(seeds, []byte{0xc0}, []byte{0x90}, []byte{0x91, 0x80})
}

// FuzzEntries feeds arbitrary bytes to the fast entries reader: no panic,
// and whatever it accepts the codec reads as the same entries.
func FuzzEntries(f *testing.F) {
	for _, s := range entrySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if checkShape(in) != nil {
			return // the frame decoder never hands such bytes over
		}
		es, err := parseEntries(in)
		if err != nil {
			return
		}
		again := appendEntries(nil, es)
		var viaCodec []wire.Entry
		if err := codec.NewDecoderBytes(again, newHandle()).Decode(&viaCodec); err != nil {
			t.Fatalf("codec cannot read the fast path's re-encoding: %v", err)
		}
		if !bytes.Equal(appendEntries(nil, viaCodec), again) {
			t.Fatal("codec and fast path disagree on the entries")
		}
	})
}

// Entries of one message share one buffer for their Data; appending to
// one entry's Data must not write over the next entry's.
func TestDecodedEntryDataDoNotOverlap(t *testing.T) {
	m := wire.Message{Type: wire.MsgApp, From: "a", To: "b", Entries: []wire.Entry{
		{Index: 1, Data: []byte("first")}, {Index: 2, Data: []byte("second")},
	}}
	got, err := newMsgDecoder().decode(encodeForTest(t, m))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got.Entries[0].Data, "XXXXXX"...)
	if string(got.Entries[1].Data) != "second" {
		t.Fatalf("appending to entry 1's data changed entry 2's to %q", got.Entries[1].Data)
	}
}
