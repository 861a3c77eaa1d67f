package snapshottest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/wire"
)

// Data returns n bytes derived from seed, so that a reader can check a
// snapshot's contents without remembering them.
func Data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(out[i:], r.Uint64())
	}
	return out[:n:n]
}

// Meta returns snapshot metadata for the given index and term with a
// three-voter configuration.
func Meta(index, term uint64) wire.SnapshotMeta {
	return wire.SnapshotMeta{Index: index, Term: term, Config: wire.Configuration{Servers: []wire.Server{
		{ID: "n1", Address: "127.0.0.1:7001"},
		{ID: "n2", Address: "127.0.0.1:7002"},
		{ID: "n3", Address: "127.0.0.1:7003", Role: wire.Learner},
	}}}
}

// Write creates a snapshot with meta and data, writing data in chunks of
// odd sizes, and returns its ID.
func Write(t testing.TB, s snapshot.Store, meta wire.SnapshotMeta, data []byte) string {
	t.Helper()
	sink, err := s.Create(meta)
	if err != nil {
		t.Fatalf("Create(index %d): %v", meta.Index, err)
	}
	for off, step := 0, 1; off < len(data); step = step*3 + 1 {
		end := min(off+step, len(data))
		n, err := sink.Write(data[off:end])
		if err != nil || n != end-off {
			t.Fatalf("Write to snapshot %s: wrote %d of %d: %v", sink.ID(), n, end-off, err)
		}
		off = end
	}
	if err := sink.Close(); err != nil {
		t.Fatalf("Close of snapshot %s: %v", sink.ID(), err)
	}
	return sink.ID()
}

// ReadAll opens id and reads all of it, returning the metadata and data,
// or the first error from Open, Read or Close.
func ReadAll(s snapshot.Store, id string) (wire.SnapshotMeta, []byte, error) {
	meta, r, err := s.Open(id)
	if err != nil {
		return meta, nil, err
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return meta, data, err
}

// wantSnapshot fails the test unless id opens with meta matching want
// (Index, Term, Config, and the Size and checksum of data) and reads back
// exactly data.
func wantSnapshot(t testing.TB, s snapshot.Store, id string, want wire.SnapshotMeta, data []byte) {
	t.Helper()
	meta, got, err := ReadAll(s, id)
	if err != nil {
		t.Fatalf("reading snapshot %s: %v", id, err)
	}
	wantMeta(t, meta, id, want, data)
	if !bytes.Equal(got, data) {
		t.Fatalf("snapshot %s: read %d bytes that differ from the %d written", id, len(got), len(data))
	}
}

// wantMeta fails the test unless got describes the snapshot id with want's
// Index, Term and Config and data's size and CRC-32C.
func wantMeta(t testing.TB, got wire.SnapshotMeta, id string, want wire.SnapshotMeta, data []byte) {
	t.Helper()
	if got.ID != id || got.Index != want.Index || got.Term != want.Term || !sameConfig(got.Config, want.Config) {
		t.Fatalf("snapshot meta: got %+v, want ID %q index %d term %d config %+v", got, id, want.Index, want.Term, want.Config)
	}
	if got.Size != int64(len(data)) {
		t.Fatalf("snapshot %s: Size %d, want %d", id, got.Size, len(data))
	}
	if sum := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)); got.Checksum != sum {
		t.Fatalf("snapshot %s: Checksum %08x, want the CRC-32C of the data %08x", id, got.Checksum, sum)
	}
}

func sameConfig(a, b wire.Configuration) bool {
	if len(a.Servers) != len(b.Servers) {
		return false
	}
	for i := range a.Servers {
		if a.Servers[i] != b.Servers[i] {
			return false
		}
	}
	return true
}

func list(t testing.TB, s snapshot.Store) []wire.SnapshotMeta {
	t.Helper()
	metas, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return metas
}

func wantIDs(t testing.TB, s snapshot.Store, ids ...string) {
	t.Helper()
	metas := list(t, s)
	got := make([]string, len(metas))
	for i, m := range metas {
		got[i] = m.ID
	}
	if len(got) != len(ids) {
		t.Fatalf("List: got IDs %q, want %q", got, ids)
	}
	for i := range got {
		if got[i] != ids[i] {
			t.Fatalf("List: got IDs %q, want %q", got, ids)
		}
	}
}

func wantErr(t testing.TB, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}
