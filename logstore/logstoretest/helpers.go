package logstoretest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// Make returns entries [lo, hi) with the given term, each carrying a
// payload derived from its index and term so that a read can be checked
// without remembering what was written.
func Make(lo, hi, term uint64) []wire.Entry {
	out := make([]wire.Entry, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, wire.Entry{
			Index:      i,
			Term:       term,
			Type:       wire.EntryNormal,
			Data:       Payload(i, term),
			Origin:     "n1",
			ProposalID: i * 7,
			Time:       int64(i) * 1000,
		})
	}
	return out
}

// Payload is the data Make puts in the entry with the given index and term.
func Payload(index, term uint64) []byte {
	return fmt.Appendf(nil, "entry-%d-term-%d", index, term)
}

// EntryEqual reports whether a and b are the same entry, treating a nil and
// an empty Data as equal (an encoder may not tell them apart).
func EntryEqual(a, b wire.Entry) bool {
	if !bytes.Equal(a.Data, b.Data) {
		return false
	}
	a.Data, b.Data = nil, nil
	return reflect.DeepEqual(a, b)
}

// must fails the test at once if err is not nil.
func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails the test unless err wraps target.
func wantErr(t testing.TB, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}

// store writes entries and fails the test on error.
func store(t testing.TB, s logstore.Store, entries []wire.Entry) {
	t.Helper()
	must(t, s.StoreEntries(entries), fmt.Sprintf("StoreEntries(%d entries from %d)", len(entries), firstIdx(entries)))
}

func firstIdx(entries []wire.Entry) uint64 {
	if len(entries) == 0 {
		return 0
	}
	return entries[0].Index
}

// wantBounds fails the test unless the store's FirstIndex and LastIndex are
// first and last.
func wantBounds(t testing.TB, s logstore.Store, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	must(t, err, "FirstIndex")
	l, err := s.LastIndex()
	must(t, err, "LastIndex")
	if f != first || l != last {
		t.Fatalf("bounds: got [%d, %d], want [%d, %d]", f, l, first, last)
	}
}

// wantEntries fails the test unless Entries(lo, hi, 0) returns exactly want.
func wantEntries(t testing.TB, s logstore.Store, lo, hi uint64, want []wire.Entry) {
	t.Helper()
	got, err := s.Entries(lo, hi, 0)
	must(t, err, fmt.Sprintf("Entries(%d, %d)", lo, hi))
	wantSame(t, got, want)
}

func wantSame(t testing.TB, got, want []wire.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if !EntryEqual(got[i], want[i]) {
			t.Fatalf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
