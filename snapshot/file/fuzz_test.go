package file

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/snapshot/snapshottest"
)

// memFile is a read-only File over a byte slice.
type memFile struct{ *bytes.Reader }

func (memFile) Write([]byte) (int, error) { return 0, errors.New("read-only") }
func (memFile) Close() error              { return nil }
func (memFile) Sync() error               { return nil }
func (f memFile) Size() (int64, error)    { return f.Reader.Size(), nil }

// FuzzReadTrailer feeds arbitrary file contents to the trailer reader: it
// must never panic, and what it rejects is ErrCorrupt.
func FuzzReadTrailer(f *testing.F) {
	tr := trailer{Meta: snapshottest.Meta(5, 2), Seq: 9}
	tr.Meta.Size = 3
	good, err := encodeTrailer(tr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte("abc"), good...))
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readTrailer(memFile{bytes.NewReader(b)}, int64(len(b)))
		if err != nil && !errors.Is(err, snapshot.ErrCorrupt) {
			t.Fatalf("error not wrapping ErrCorrupt: %v", err)
		}
		if err == nil && got.Meta.Size < 0 {
			t.Fatalf("accepted a negative size %d", got.Meta.Size)
		}
	})
}
