package file

import (
	"io"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

const benchSnapshotSize = 100 << 20

// BenchmarkWrite100MB writes (and fsyncs, renames, syncs the directory) a
// 100 MB snapshot in 1 MiB writes.
func BenchmarkWrite100MB(b *testing.B) {
	s, err := Open(b.TempDir(), Options{Retain: 1})
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 13)
	}
	b.SetBytes(benchSnapshotSize)
	index := uint64(0)
	for b.Loop() {
		index++
		sink, err := s.Create(wire.SnapshotMeta{Index: index, Term: 1})
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < benchSnapshotSize; off += len(chunk) {
			if _, err := sink.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestore100MB opens a 100 MB snapshot and reads it to the end
// (checksum verified) in 1 MiB reads, as a restore does.
func BenchmarkRestore100MB(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	sink, err := s.Create(wire.SnapshotMeta{Index: 1, Term: 1})
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for off := 0; off < benchSnapshotSize; off += len(chunk) {
		if _, err := sink.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSnapshotSize)
	buf := make([]byte, 1<<20)
	for b.Loop() {
		_, r, err := s.Open(sink.ID())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
