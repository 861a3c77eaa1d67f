package wal

import (
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
)

// smallSegments makes the suites cross segment boundaries: rotation,
// cuts that remove whole segments, and compactions that drop them.
const smallSegments = 4 << 10

func openT(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// variants run every suite with the default segments and read cache,
// with small segments and no cache (every read goes to the files), and
// with small segments and a tiny cache (reads mix both).
var variants = []struct {
	name string
	opts Options
}{
	{"Default", Options{}},
	{"SmallSegmentsNoCache", Options{SegmentSize: smallSegments, CacheEntries: -1}},
	{"SmallSegmentsTinyCache", Options{SegmentSize: smallSegments, CacheEntries: 3, CacheBytes: 200}},
}

func TestConformance(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			logstoretest.Run(t, func(t *testing.T) logstore.Store {
				return openT(t, t.TempDir(), v.opts)
			})
		})
	}
}

func TestDurable(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			logstoretest.RunDurable(t, func(t *testing.T, dir string) logstore.Store {
				return openT(t, dir, v.opts)
			})
		})
	}
}
