package logstore

import (
	"errors"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func run(lo, hi uint64) []wire.Entry {
	var out []wire.Entry
	for i := lo; i < hi; i++ {
		out = append(out, wire.Entry{Index: i, Term: 1})
	}
	return out
}

func TestCheckAppend(t *testing.T) {
	for _, tc := range []struct {
		name        string
		entries     []wire.Entry
		first, last uint64
		want        error
	}{
		{"empty batch", nil, 5, 9, nil},
		{"append at last+1", run(10, 12), 5, 9, nil},
		{"replace a suffix", run(7, 12), 5, 9, nil},
		{"replace from the first entry", run(5, 6), 5, 9, nil},
		{"any start on an empty log", run(100, 102), 0, 0, nil},
		{"gap after last", run(11, 12), 5, 9, ErrNonContiguous},
		{"below first", run(4, 6), 5, 9, ErrCompacted},
		{"index 0", run(0, 2), 0, 0, ErrNonContiguous},
		{"hole inside the batch", append(run(10, 11), run(12, 13)...), 5, 9, ErrNonContiguous},
		{"repeated index", append(run(10, 11), run(10, 11)...), 5, 9, ErrNonContiguous},
	} {
		err := CheckAppend(tc.entries, tc.first, tc.last)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestLimitSize(t *testing.T) {
	ents := run(1, 5) // each Size() is 24
	for _, tc := range []struct {
		maxBytes uint64
		want     int
	}{{0, 4}, {1, 1}, {24, 1}, {47, 1}, {48, 2}, {96, 4}, {1000, 4}} {
		if got := LimitSize(ents, tc.maxBytes); got != tc.want {
			t.Errorf("LimitSize(4 entries of 24 bytes, %d) = %d, want %d", tc.maxBytes, got, tc.want)
		}
	}
	if got := LimitSize(nil, 10); got != 0 {
		t.Errorf("LimitSize(nil) = %d, want 0", got)
	}
}
