package tcp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// newHandle is the handle the codec-based message lanes of earlier
// versions used; the tests read and write with it as those nodes did.
func newHandle() *codec.MsgpackHandle {
	h := wire.MsgpackHandle()
	h.MaxInitLen = 1024
	h.MaxDepth = 16
	h.Raw = true
	return h
}

// The hand-written codec knows every field of the types it writes, by its
// codec tag: a field added to one of them fails here until msgcodec.go
// and entries.go write and read it too.
func TestHandCodecKnowsEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type]string{
		reflect.TypeOf(wire.Message{}):       "y to fr t lt,omitempty ix,omitempty e,omitempty c,omitempty s,omitempty r,omitempty rh,omitempty x,omitempty",
		reflect.TypeOf(wire.Entry{}):         "i t y d,omitempty c,omitempty o,omitempty p,omitempty w,omitempty",
		reflect.TypeOf(wire.SnapshotMeta{}):  "id,omitempty i t c s,omitempty k,omitempty",
		reflect.TypeOf(wire.Configuration{}): "s",
		reflect.TypeOf(wire.Server{}):        "id a r",
	} {
		var tags []string
		for i := 0; i < typ.NumField(); i++ {
			tags = append(tags, typ.Field(i).Tag.Get("codec"))
		}
		if got := strings.Join(tags, " "); got != want {
			t.Errorf("%v has fields tagged %q; the hand-written codec knows %q", typ, got, want)
		}
	}
}

// randomMessages covers every field of a message in every size class.
func randomMessages(rng *rand.Rand, n int) []wire.Message {
	uints := []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	u := func() uint64 { return uints[rng.Intn(len(uints))] }
	str := func() string { return strings.Repeat("n", []int{0, 1, 31, 32, 255, 256}[rng.Intn(6)]) }
	msgs := transporttest.Messages("a", "b")
	for i := 0; i < n; i++ {
		m := wire.Message{Type: wire.MessageType(rng.Intn(256)), To: wire.NodeID(str()), From: wire.NodeID(str()),
			Term: u(), LogTerm: u(), Index: u(), Commit: u(), Reject: rng.Intn(2) == 0, RejectHint: u()}
		if rng.Intn(2) == 0 {
			m.Entries = edgeEntries(rng, 1+rng.Intn(5))
		}
		if rng.Intn(3) == 0 {
			m.Context = make([]byte, []int{0, 1, 255, 256, 70000}[rng.Intn(5)])
			rng.Read(m.Context)
		}
		if rng.Intn(3) == 0 {
			m.Snapshot = &wire.SnapshotMeta{ID: str(), Index: u(), Term: u(), Size: []int64{0, 1, -1, math.MaxInt64, math.MinInt64}[rng.Intn(5)],
				Checksum: uint32(u())}
			if rng.Intn(2) == 0 {
				m.Snapshot.Config = wire.Configuration{Servers: []wire.Server{{ID: wire.NodeID(str()), Address: str(), Role: wire.Learner}}}
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// Every message is written byte for byte as the codec writes it: a node of
// an earlier version, which wrote with the codec, reads it as it reads its
// own.
func TestMessagesAreTheCodecsBytes(t *testing.T) {
	enc := newMsgEncoder()
	for i, m := range randomMessages(rand.New(rand.NewSource(11)), 500) {
		got, err := enc.encode(&m)
		if err != nil {
			t.Fatal(err)
		}
		if want := plainEncode(t, &m); !bytes.Equal(got, want) {
			t.Fatalf("message %d (%v): wrote %d bytes, the codec %d; first difference at %d", i, m, len(got), len(want), firstDiff(got, want))
		}
	}
}

// What the codec writes (a node of an earlier version), the decoder reads
// back as the same message, and the codec reads what the encoder writes.
func TestMessagesReadTheCodecsBytes(t *testing.T) {
	dec := newMsgDecoder()
	enc := newMsgEncoder()
	for i, m := range randomMessages(rand.New(rand.NewSource(12)), 500) {
		if !m.Type.Valid() || m.Type.IsLocal() {
			m.Type = wire.MsgApp
		}
		want := plainEncode(t, &m)
		got, err := dec.decode(want)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if again := plainEncode(t, &got); !bytes.Equal(again, want) {
			t.Fatalf("message %d changed across the decoder: %v, want %v", i, got, m)
		}
		ours, _ := enc.encode(&m)
		var viaCodec wire.Message
		if err := codec.NewDecoderBytes(ours, newHandle()).Decode(&viaCodec); err != nil {
			t.Fatalf("message %d: the codec cannot read our bytes: %v", i, err)
		}
		if again := plainEncode(t, &viaCodec); !bytes.Equal(again, want) {
			t.Fatalf("message %d: the codec read %v, want %v", i, viaCodec, m)
		}
	}
}

// The decoder accepts what another msgpack writer may choose: keys in any
// order, wider integers, str for bytes, nil for zero values, and keys it
// does not know; it refuses what is not a message.
func TestMessageDecoderAcceptsOtherEncodings(t *testing.T) {
	in := []byte{0x88,
		0xa1, 'y', 0xd3, 0, 0, 0, 0, 0, 0, 0, byte(wire.MsgAppResp), // type as int64
		0xa1, 'z', 0x92, 0x01, 0x80, // a newer node's field
		0xa2, 't', 'o', 0xc4, 1, 'b', // to as bin
		0xa2, 'f', 'r', 0xa1, 'a',
		0xa1, 't', 0xcf, 0, 0, 0, 0, 0, 0, 0, 9, // term as uint64
		0xa1, 'r', 0xc2, // reject false
		0xa1, 'x', 0xa2, 'h', 'i', // context as str
		0xa1, 's', 0xc0, // snapshot nil
	}
	got, err := newMsgDecoder().decode(in)
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Message{Type: wire.MsgAppResp, To: "b", From: "a", Term: 9, Context: []byte("hi")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for name, bad := range map[string][]byte{
		"nil message":      {0xc0},
		"array message":    {0x91, 0x01},
		"reject not bool":  {0x82, 0xa1, 'y', 0x04, 0xa1, 'r', 0x01},
		"type overflow":    {0x81, 0xa1, 'y', 0xcd, 1, 0},
		"key not a string": {0x81, 0x01, 0x01},
		"truncated map":    {0x83, 0xa1, 'y', 0x04},
		"snapshot not map": {0x82, 0xa1, 'y', 0x09, 0xa1, 's', 0x01},
		"checksum > 32bit": {0x82, 0xa1, 'y', 0x09, 0xa1, 's', 0x81, 0xa1, 'k', 0xcf, 0, 0, 0, 1, 0, 0, 0, 0},
		"too many entries": amplificationBomb(maxArrayElements + 1),
	} {
		if _, err := newMsgDecoder().decode(bad); err == nil {
			t.Errorf("%s: accepted % x", name, bad)
		}
	}
}

// prevEncode and prevDecode are the message codec of the previous
// version, as it was: the codec handling a mirror of wire.Message whose
// entries were written and read by entries.go.
type prevFrameMsg struct {
	Type       wire.MessageType   `codec:"y"`
	To         wire.NodeID        `codec:"to"`
	From       wire.NodeID        `codec:"fr"`
	Term       uint64             `codec:"t"`
	LogTerm    uint64             `codec:"lt,omitempty"`
	Index      uint64             `codec:"ix,omitempty"`
	Entries    codec.Raw          `codec:"e,omitempty"`
	Commit     uint64             `codec:"c,omitempty"`
	Snapshot   *wire.SnapshotMeta `codec:"s,omitempty"`
	Reject     bool               `codec:"r,omitempty"`
	RejectHint uint64             `codec:"rh,omitempty"`
	Context    []byte             `codec:"x,omitempty"`
}

func prevEncode(t testing.TB, m *wire.Message) []byte {
	fm := prevFrameMsg{Type: m.Type, To: m.To, From: m.From, Term: m.Term, LogTerm: m.LogTerm,
		Index: m.Index, Commit: m.Commit, Snapshot: m.Snapshot, Reject: m.Reject,
		RejectHint: m.RejectHint, Context: m.Context}
	if len(m.Entries) > 0 {
		fm.Entries = appendEntries(nil, m.Entries)
	}
	var b []byte
	if err := codec.NewEncoderBytes(&b, newHandle()).Encode(&fm); err != nil {
		t.Fatal(err)
	}
	return b
}

func prevDecode(payload []byte) (wire.Message, error) {
	if err := checkShape(payload); err != nil {
		return wire.Message{}, err
	}
	dec := codec.NewDecoderBytes(payload, newHandle())
	var fm prevFrameMsg
	if err := dec.Decode(&fm); err != nil {
		return wire.Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	m := wire.Message{Type: fm.Type, To: fm.To, From: fm.From, Term: fm.Term, LogTerm: fm.LogTerm,
		Index: fm.Index, Commit: fm.Commit, Snapshot: fm.Snapshot, Reject: fm.Reject,
		RejectHint: fm.RejectHint, Context: fm.Context}
	if fm.Entries != nil {
		var err error
		if m.Entries, err = parseEntries(fm.Entries); err != nil {
			return wire.Message{}, err
		}
	}
	return m, nil
}

// A node of the previous version and a node of this one exchange every
// kind of message over real connections: the previous version's frames,
// sent on a lane it opened, reach this node's handler unchanged, and this
// node's frames, read by the previous version's decoder on a connection
// this node dialed, are the messages it sent.
func TestInteropWithThePreviousVersion(t *testing.T) {
	b, rb := started(t, testConfig(t, "b"))
	msgs := transporttest.Messages("old", "b")

	// Old to new: an old node's control lane into b.
	c := rawPeer(t, b.Addr(), &hello{Version: ProtocolVersion, Lane: laneControl, Cluster: "test-cluster", From: "old", To: "b"})
	for i := range msgs {
		if _, err := c.Write(framed(prevEncode(t, &msgs[i]))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range msgs {
		got := rb.NextMsg(t)
		if !bytes.Equal(plainEncode(t, &got), plainEncode(t, &msgs[i])) {
			t.Fatalf("message %d from the old node arrived as %v, want %v", i, got, msgs[i])
		}
	}

	// New to old: b dials an old node, which accepts and decodes as the
	// previous version did.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan wire.Message, 2*len(msgs))
	errc := make(chan error, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(conn)
				if _, err := decodeHello(br); err != nil {
					errc <- err
					return
				}
				if _, err := conn.Write(encodeVerdict("")); err != nil {
					return
				}
				fr := frameReader{r: br, max: DefaultMaxFrameSize}
				for {
					p, err := fr.next()
					if err != nil {
						return
					}
					m, err := prevDecode(p)
					if err != nil {
						errc <- err
						return
					}
					got <- m
				}
			}()
		}
	}()
	b.SetPeer("old", ln.Addr().String())
	back := transporttest.Messages("b", "old")
	for _, m := range back {
		b.Send(m)
	}
	// Two lanes: order holds only within each, so match by type and term.
	type key struct {
		typ  wire.MessageType
		term uint64
	}
	want := map[key]wire.Message{}
	for _, m := range back {
		want[key{m.Type, m.Term}] = m
	}
	for range back {
		select {
		case m := <-got:
			w, ok := want[key{m.Type, m.Term}]
			if !ok || !bytes.Equal(plainEncode(t, &m), plainEncode(t, &w)) {
				t.Fatalf("the old node read %v, want %v", m, w)
			}
			delete(want, key{m.Type, m.Term})
		case err := <-errc:
			t.Fatalf("the old node could not read this node's frames: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("the old node did not receive every message")
		}
	}
}

// FuzzMessage feeds arbitrary payloads to the message decoder: no panic,
// every refusal wraps ErrBadMessage, and whatever it accepts is a network
// message that its re-encoding carries unchanged, both through this
// decoder and through the codec (a node of the previous version).
func FuzzMessage(f *testing.F) {
	for _, m := range transporttest.Messages("a", "b") {
		f.Add(plainEncode(f, &m))
	}
	for _, m := range randomMessages(rand.New(rand.NewSource(13)), 6) {
		if len(m.Context) > 64 {
			m.Context = m.Context[:64]
		}
		m.Type = wire.MsgApp
		f.Add(plainEncode(f, &m))
	}
	f.Add([]byte{0x80})
	f.Add([]byte{0x81, 0xa1, 'e', 0x91, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := newMsgDecoder().decode(in)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		if !m.Type.Valid() || m.Type.IsLocal() {
			t.Fatalf("accepted a message of type %s", m.Type)
		}
		ours := appendMessage(nil, &m)
		again, err := newMsgDecoder().decode(ours)
		if err != nil {
			t.Fatalf("the re-encoding does not decode: %v", err)
		}
		if !bytes.Equal(appendMessage(nil, &again), ours) {
			t.Fatalf("message changed across a round trip: %v, then %v", m, again)
		}
		var viaCodec wire.Message
		if err := codec.NewDecoderBytes(ours, newHandle()).Decode(&viaCodec); err != nil {
			t.Fatalf("the codec cannot read the re-encoding: %v", err)
		}
		if !bytes.Equal(appendMessage(nil, &viaCodec), ours) {
			t.Fatalf("the codec read %v, this decoder %v", viaCodec, m)
		}
	})
}
