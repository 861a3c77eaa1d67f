package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// fuzzMaxFrame keeps fuzzed frames small so that the fuzzer explores
// content rather than sizes.
const fuzzMaxFrame = 1 << 20

// framed returns payload with its frame header.
func framed(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

func encodeForTest(t testing.TB, m wire.Message) []byte {
	t.Helper()
	p, err := newMsgEncoder().encode(&m)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), p...)
}

// hostileFrames are inputs a peer could send to hurt us: each must be
// refused without a crash, a hang or a large allocation.
func hostileFrames(t testing.TB) map[string][]byte {
	valid := encodeForTest(t, wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1})
	// A message map whose "e" (Entries) claims 2^32-1 elements.
	arrayBomb := []byte{0x82, 0xa1, 'y', 0x03, 0xa1, 'e', 0xdd, 0xff, 0xff, 0xff, 0xff}
	// A Context claiming 2^32-1 bytes.
	bytesBomb := []byte{0x82, 0xa1, 'y', 0x0a, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01}
	// A map claiming 2^32-1 pairs.
	mapBomb := []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'y', 0x01}
	// An unknown field nesting arrays ever deeper.
	deep := []byte{0x82, 0xa1, 'y', 0x0a, 0xa1, 'z'}
	for i := 0; i < 5000; i++ {
		deep = append(deep, 0x91)
	}
	deep = append(deep, 0xc0)
	oversized := binary.BigEndian.AppendUint32(nil, 0xfffffff0)
	return map[string][]byte{
		"garbage":        []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"truncated":      framed(valid)[:len(valid)-2],
		"oversized":      append(oversized, valid...),
		"empty-frame":    {0, 0, 0, 0},
		"unknown-type":   framed(encodeForTest(t, wire.Message{Type: 200, From: "a", To: "b"})),
		"local-type":     framed(encodeForTest(t, wire.Message{Type: wire.MsgHup, From: "a", To: "b"})),
		"array-bomb":     framed(arrayBomb),
		"bytes-bomb":     framed(bytesBomb),
		"map-bomb":       framed(mapBomb),
		"deep-nesting":   framed(deep),
		"trailing-bytes": framed(append(append([]byte(nil), valid...), 0xc0)),
		"not-a-map":      framed([]byte{0x93, 0x01, 0x02, 0x03}),
	}
}

// frameSeeds are FuzzFrame's starting points: every valid message, one
// stream of several frames, and the hostile inputs.
func frameSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	var stream []byte
	for _, m := range transporttest.Messages("a", "b") {
		f := framed(encodeForTest(t, m))
		seeds = append(seeds, f)
		stream = append(stream, f...)
	}
	seeds = append(seeds, stream)
	hostile := hostileFrames(t)
	names := make([]string, 0, len(hostile))
	for name := range hostile {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		seeds = append(seeds, hostile[name])
	}
	return seeds
}

// FuzzFrame feeds arbitrary bytes to the frame reader and message decoder
// of a message lane. Whatever the input: no panic, and every message
// accepted is of a network type and survives a re-encode unchanged.
func FuzzFrame(f *testing.F) {
	for _, s := range frameSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := frameReader{r: bytes.NewReader(in), max: fuzzMaxFrame}
		dec := newMsgDecoder()
		enc := newMsgEncoder()
		for {
			p, err := fr.next()
			if err != nil {
				return
			}
			m, err := dec.decode(p)
			if err != nil {
				if !errors.Is(err, ErrBadMessage) {
					t.Fatalf("decode error %v does not wrap ErrBadMessage", err)
				}
				return
			}
			if !m.Type.Valid() || m.Type.IsLocal() {
				t.Fatalf("accepted a message of type %s", m.Type)
			}
			b1, err := enc.encode(&m)
			if err != nil {
				t.Fatalf("cannot re-encode an accepted message: %v", err)
			}
			b1 = append([]byte(nil), b1...)
			m2, err := newMsgDecoder().decode(b1)
			if err != nil {
				t.Fatalf("re-encoded message does not decode: %v", err)
			}
			b2, _ := enc.encode(&m2)
			if !bytes.Equal(b1, b2) {
				t.Fatalf("message changed across a round trip:\n%#v\n%#v", m, m2)
			}
		}
	})
}

// maxHelloLen is the most decodeHello may consume.
const maxHelloLen = 7 + 3*(1+maxIDLen)

func helloSeeds() [][]byte {
	ok := hello{Version: ProtocolVersion, Lane: laneControl, Cluster: "c1", From: "n1", To: "n2"}.encode()
	return [][]byte{
		ok,
		hello{Version: ProtocolVersion, Lane: laneSnapshot, Cluster: "prod-east", From: "node-17", To: ""}.encode(),
		hello{Version: 2, Lane: laneBulk, Cluster: "c1", From: "n1", To: "n2"}.encode(),
		hello{Version: ProtocolVersion, Lane: 9, Cluster: "c1", From: "n1", To: "n2"}.encode(),
		ok[:9],
		[]byte("MNDX\x00\x01\x01\x01c\x01a\x00"),
		[]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), // a TLS ClientHello
		{},
	}
}

// FuzzHandshake feeds arbitrary bytes to the handshake decoder: no panic,
// never more than maxHelloLen bytes read, and an accepted handshake
// re-encodes to the bytes it was read from.
func FuzzHandshake(f *testing.F) {
	for _, s := range helloSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		h, err := decodeHello(r)
		read := len(in) - r.Len()
		if read > maxHelloLen {
			t.Fatalf("decoder read %d bytes, more than a handshake can hold", read)
		}
		if err != nil {
			if !errors.Is(err, ErrHandshake) {
				t.Fatalf("error %v does not wrap ErrHandshake", err)
			}
			return
		}
		if h.Cluster == "" || h.From == wire.None || h.Version != ProtocolVersion {
			t.Fatalf("accepted an invalid handshake %+v", h)
		}
		if got := h.encode(); !bytes.Equal(got, in[:read]) {
			t.Fatalf("handshake %+v re-encodes to %x, read from %x", h, got, in[:read])
		}
		// The verdict decoder must cope with the same bytes.
		_ = decodeVerdict(bytes.NewReader(in))
	})
}

func snapSeeds(t testing.TB) [][]byte {
	msg := encodeForTest(t, wire.Message{Type: wire.MsgSnap, From: "a", To: "b", Term: 2, Snapshot: &wire.SnapshotMeta{Index: 9, Term: 2}})
	chunk := append(make([]byte, chunkHeaderLen), "some snapshot bytes"...)
	fillChunk(chunk, 4096)
	return [][]byte{
		encodeSnapHeader(42, 1<<20, msg),
		encodeSnapHeader(42, -1, msg),
		encodeOffsetFrame(snapResume, 4096),
		encodeOffsetFrame(snapEnd, 1<<20),
		chunk,
		encodeVerdictFrame(nil),
		encodeVerdictFrame(errors.New("disk full")),
		{snapChunk, 0, 0},
	}
}

// FuzzSnapshotFrame feeds arbitrary payloads to every decoder of the
// snapshot lane: no panic, and what a decoder accepts is well formed.
func FuzzSnapshotFrame(f *testing.F) {
	for _, s := range snapSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if _, total, m, err := decodeSnapHeader(p, newMsgDecoder()); err == nil {
			if total < 0 || m.Type != wire.MsgSnap || m.Snapshot == nil {
				t.Fatalf("accepted header: total %d, %v", total, m)
			}
		}
		for _, kind := range []byte{snapResume, snapEnd} {
			if off, err := decodeOffsetFrame(p, kind); err == nil && off < 0 {
				t.Fatalf("accepted negative offset %d", off)
			}
		}
		if _, data, err := decodeChunk(p); err == nil {
			if crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(p[9:13]) {
				t.Fatal("accepted a chunk whose checksum does not match")
			}
		}
		_, _ = decodeVerdictFrame(p)
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora when
// MANDATE_WRITE_FUZZ_SEEDS is set (after a change of the wire format).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MANDATE_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set MANDATE_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	write := func(name string, seeds [][]byte) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzFrame", frameSeeds(t))
	write("FuzzHandshake", helloSeeds())
	write("FuzzSnapshotFrame", snapSeeds(t))
	write("FuzzEntries", entrySeeds(t))
}

func TestDecoderRefusesHostileFrames(t *testing.T) {
	for name, in := range hostileFrames(t) {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			fr := frameReader{r: bytes.NewReader(in), max: fuzzMaxFrame}
			var err error
			var p []byte
			if p, err = fr.next(); err == nil {
				_, err = newMsgDecoder().decode(p)
			}
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("accepted")
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Fatalf("refusing it allocated %d bytes", alloc)
			}
		})
	}
}
