package wal

import (
	"os"
	"path/filepath"
	"testing"
)

// No entry has index 0, so no segment starts there: a segment file named
// for base 0, with a header that says so, is not one the store wrote, and
// Open must refuse it as corruption naming the file rather than serve a
// log whose bounds are [0, 2^64-1] (its lastIndex, base-1, wraps).
func TestSegmentOfBaseZeroIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	closeT(t, openT(t, dir, Options{}))
	path := filepath.Join(dir, segName(0))
	if err := os.WriteFile(path, encodeHeader(0), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err == nil {
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		_ = s.Close()
		t.Fatalf("Open of a segment for base 0 served bounds [%d, %d]", first, last)
	}
	wantCorrupt(t, err, "Open of a segment for base 0", path)
}
