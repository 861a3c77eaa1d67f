// Package logstoretest is the conformance suite every logstore.Store must
// pass. Each test is one sentence of the logstore contract.
//
//	func TestConformance(t *testing.T) {
//		logstoretest.Run(t, func(t *testing.T) logstore.Store { return memory.New() })
//	}
package logstoretest

import (
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// Run checks the logstore.Store contract on stores made by open, one fresh
// store per subtest. The suite closes every store it opens; open should
// keep any files under t.TempDir.
func Run(t *testing.T, open func(t *testing.T) logstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s logstore.Store)
	}{
		{"EmptyStoreHasNoEntriesAndNoHardState", testEmpty},
		{"StoredEntriesReadBackIntact", testRoundTrip},
		{"EveryEntryFieldSurvives", testAllFields},
		{"EntriesOutsideTheLogAreCompactedOrUnavailable", testRangeErrors},
		{"MaxBytesLimitsButReturnsAtLeastOne", testMaxBytes},
		{"StoreEntriesReplacesTheSuffix", testReplaceSuffix},
		{"StoreEntriesCanReplaceTheWholeLog", testReplaceAll},
		{"NonContiguousAppendIsRejectedAndWritesNothing", testNonContiguous},
		{"AppendBelowFirstIndexIsRejected", testBelowFirst},
		{"EmptyStoreAcceptsAnyStartIndex", testEmptyAnyStart},
		{"EmptyBatchIsANoop", testEmptyBatch},
		{"DeleteBeforeCompactsThePrefix", testDeleteBefore},
		{"DeleteBeforeEverythingEmptiesTheLog", testDeleteAll},
		{"HardStateRoundTrips", testHardState},
		{"ReturnedAndPassedSlicesAreNotShared", testNoAliasing},
		{"LargeEntriesRoundTrip", testLargeEntries},
		{"EveryMethodFailsWithErrClosedAfterClose", testClosed},
		{"ConcurrentReadsDuringWritesSeeAConsistentLog", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

func testEmpty(t *testing.T, s logstore.Store) {
	wantBounds(t, s, 0, 0)
	hs, ok, err := s.HardState()
	must(t, err, "HardState")
	if ok || !hs.IsEmpty() {
		t.Fatalf("HardState on an empty store: got %+v, %v; want none", hs, ok)
	}
	_, err = s.Entries(1, 2, 0)
	wantErr(t, err, logstore.ErrUnavailable, "Entries(1, 2) on an empty store")
	got, err := s.Entries(1, 1, 0)
	must(t, err, "Entries(1, 1) on an empty store")
	if len(got) != 0 {
		t.Fatalf("Entries(1, 1): got %d entries, want none", len(got))
	}
}

func testRoundTrip(t *testing.T, s logstore.Store) {
	want := Make(1, 101, 1)
	store(t, s, want[:1])
	store(t, s, want[1:50])
	store(t, s, want[50:])
	wantBounds(t, s, 1, 100)
	wantEntries(t, s, 1, 101, want)
	wantEntries(t, s, 10, 20, want[9:19])
	wantEntries(t, s, 100, 101, want[99:])
	got, err := s.Entries(42, 42, 0)
	must(t, err, "Entries(42, 42)")
	if len(got) != 0 {
		t.Fatalf("Entries(42, 42): got %d entries, want none", len(got))
	}
	if _, err := s.Entries(20, 10, 0); err == nil {
		t.Fatal("Entries(20, 10): got nil error for an inverted range")
	}
}

func testAllFields(t *testing.T, s logstore.Store) {
	cfg := &wire.Configuration{Servers: []wire.Server{
		{ID: "n1", Address: "127.0.0.1:7001", Role: wire.Voter},
		{ID: "n2", Address: "127.0.0.1:7002", Role: wire.Learner},
	}}
	want := []wire.Entry{
		{Index: 1, Term: 1, Type: wire.EntryNoop},
		{Index: 2, Term: 1, Type: wire.EntryConfig, Config: cfg},
		{Index: 3, Term: 2, Type: wire.EntryNormal, Data: []byte{0, 1, 2, 0xff}, Origin: "n2", ProposalID: 1 << 60, Time: -5},
		{Index: 4, Term: 2, Type: wire.EntryNormal, Data: []byte{}},
		{Index: 5, Term: 1<<64 - 1, Type: wire.EntryNormal, Data: []byte("x"), Time: 1<<63 - 1},
	}
	store(t, s, want)
	wantEntries(t, s, 1, 6, want)
}

func testRangeErrors(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 21, 1))
	must(t, s.DeleteBefore(6), "DeleteBefore(6)")
	wantBounds(t, s, 6, 20)
	_, err := s.Entries(5, 10, 0)
	wantErr(t, err, logstore.ErrCompacted, "Entries(5, 10) with first index 6")
	_, err = s.Entries(0, 10, 0)
	wantErr(t, err, logstore.ErrCompacted, "Entries(0, 10)")
	_, err = s.Entries(10, 22, 0)
	wantErr(t, err, logstore.ErrUnavailable, "Entries(10, 22) with last index 20")
	_, err = s.Entries(21, 22, 0)
	wantErr(t, err, logstore.ErrUnavailable, "Entries(21, 22) with last index 20")
	wantEntries(t, s, 6, 21, Make(6, 21, 1))
}

func testMaxBytes(t *testing.T, s logstore.Store) {
	want := Make(1, 10, 1)
	store(t, s, want)
	one := want[0].Size() // entries 1 to 9 from Make all have the same size
	for _, tc := range []struct {
		maxBytes uint64
		n        int
	}{
		{0, 9},             // no limit
		{1, 1},             // smaller than one entry: still one
		{one, 1},           // exactly one
		{2*one - 1, 1},     // just short of two
		{2 * one, 2},       // exactly two
		{3*one + one/2, 3}, // three and a half
		{9*one - 1, 8},     // just short of all
		{9 * one, 9},       // exactly all
		{1 << 62, 9},       // more than all
	} {
		got, err := s.Entries(1, 10, tc.maxBytes)
		must(t, err, "Entries with maxBytes")
		if len(got) != tc.n {
			t.Fatalf("Entries(1, 10, %d) with entries of %d bytes: got %d entries, want %d",
				tc.maxBytes, one, len(got), tc.n)
		}
		wantSame(t, got, want[:tc.n])
	}
	got, err := s.Entries(4, 8, 2*one)
	must(t, err, "Entries(4, 8) with a limit")
	wantSame(t, got, want[3:5])
	// A single entry bigger than the limit is still returned.
	big := wire.Entry{Index: 10, Term: 1, Data: make([]byte, 4096)}
	store(t, s, []wire.Entry{big})
	got, err = s.Entries(10, 11, 10)
	must(t, err, "Entries of one big entry")
	if len(got) != 1 {
		t.Fatalf("Entries(10, 11, 10) of a 4 KiB entry: got %d entries, want 1", len(got))
	}
}

func testReplaceSuffix(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 11, 1))
	// A new leader overwrites a conflicting suffix with a shorter one.
	store(t, s, Make(5, 7, 2))
	wantBounds(t, s, 1, 6)
	wantEntries(t, s, 1, 7, append(Make(1, 5, 1), Make(5, 7, 2)...))
	_, err := s.Entries(7, 8, 0)
	wantErr(t, err, logstore.ErrUnavailable, "Entries(7, 8) after the suffix was replaced")
	// Appending exactly at LastIndex+1 keeps everything.
	store(t, s, Make(7, 9, 3))
	wantBounds(t, s, 1, 8)
	// Replacing only the last entry.
	store(t, s, Make(8, 9, 4))
	wantEntries(t, s, 1, 9, append(append(append(Make(1, 5, 1), Make(5, 7, 2)...), Make(7, 8, 3)...), Make(8, 9, 4)...))
	// Replacing with a longer suffix.
	store(t, s, Make(3, 20, 5))
	wantBounds(t, s, 1, 19)
	wantEntries(t, s, 1, 20, append(Make(1, 3, 1), Make(3, 20, 5)...))
}

func testReplaceAll(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 11, 1))
	must(t, s.DeleteBefore(4), "DeleteBefore(4)")
	store(t, s, Make(4, 6, 2))
	wantBounds(t, s, 4, 5)
	wantEntries(t, s, 4, 6, Make(4, 6, 2))
}

func testNonContiguous(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 6, 1))
	err := s.StoreEntries(Make(7, 9, 1))
	wantErr(t, err, logstore.ErrNonContiguous, "StoreEntries starting past LastIndex+1")
	gap := append(Make(6, 8, 1), Make(9, 10, 1)...)
	err = s.StoreEntries(gap)
	wantErr(t, err, logstore.ErrNonContiguous, "StoreEntries with a gap inside the batch")
	backwards := []wire.Entry{Make(6, 7, 1)[0], Make(5, 6, 1)[0]}
	err = s.StoreEntries(backwards)
	wantErr(t, err, logstore.ErrNonContiguous, "StoreEntries with decreasing indexes")
	err = s.StoreEntries([]wire.Entry{{Index: 0, Term: 1}})
	wantErr(t, err, logstore.ErrNonContiguous, "StoreEntries of index 0")
	// A rejected batch writes nothing, not even its valid prefix.
	wantBounds(t, s, 1, 5)
	wantEntries(t, s, 1, 6, Make(1, 6, 1))
}

func testBelowFirst(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 11, 1))
	must(t, s.DeleteBefore(5), "DeleteBefore(5)")
	err := s.StoreEntries(Make(3, 8, 2))
	wantErr(t, err, logstore.ErrCompacted, "StoreEntries starting below FirstIndex")
	wantBounds(t, s, 5, 10)
	wantEntries(t, s, 5, 11, Make(5, 11, 1))
}

func testEmptyAnyStart(t *testing.T, s logstore.Store) {
	// After a snapshot install the log restarts right after the snapshot.
	store(t, s, Make(100, 105, 7))
	wantBounds(t, s, 100, 104)
	wantEntries(t, s, 100, 105, Make(100, 105, 7))
	_, err := s.Entries(99, 101, 0)
	wantErr(t, err, logstore.ErrCompacted, "Entries below a log that starts at 100")
}

func testEmptyBatch(t *testing.T, s logstore.Store) {
	must(t, s.StoreEntries(nil), "StoreEntries(nil) on an empty store")
	wantBounds(t, s, 0, 0)
	store(t, s, Make(1, 4, 1))
	must(t, s.StoreEntries([]wire.Entry{}), "StoreEntries(empty)")
	wantBounds(t, s, 1, 3)
	wantEntries(t, s, 1, 4, Make(1, 4, 1))
}

func testDeleteBefore(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 21, 1))
	must(t, s.DeleteBefore(0), "DeleteBefore(0)")
	must(t, s.DeleteBefore(1), "DeleteBefore(1)")
	wantBounds(t, s, 1, 20)
	must(t, s.DeleteBefore(11), "DeleteBefore(11)")
	wantBounds(t, s, 11, 20)
	wantEntries(t, s, 11, 21, Make(11, 21, 1))
	// Deleting a prefix that is already gone changes nothing.
	must(t, s.DeleteBefore(5), "DeleteBefore(5) after DeleteBefore(11)")
	must(t, s.DeleteBefore(11), "DeleteBefore(11) twice")
	wantBounds(t, s, 11, 20)
	// Deleting up to the last entry keeps exactly it.
	must(t, s.DeleteBefore(20), "DeleteBefore(20)")
	wantBounds(t, s, 20, 20)
	wantEntries(t, s, 20, 21, Make(20, 21, 1))
	// The log grows on as before.
	store(t, s, Make(21, 31, 2))
	wantBounds(t, s, 20, 30)
	wantEntries(t, s, 20, 31, append(Make(20, 21, 1), Make(21, 31, 2)...))
}

func testDeleteAll(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 11, 1))
	must(t, s.DeleteBefore(11), "DeleteBefore(LastIndex+1)")
	wantBounds(t, s, 0, 0)
	_, err := s.Entries(5, 6, 0)
	if err == nil {
		t.Fatal("Entries(5, 6) after everything was deleted: got nil error")
	}
	store(t, s, Make(1, 3, 1))
	must(t, s.DeleteBefore(1000), "DeleteBefore far past LastIndex")
	wantBounds(t, s, 0, 0)
	// An emptied log may restart anywhere (after a snapshot's index).
	store(t, s, Make(1001, 1003, 3))
	wantBounds(t, s, 1001, 1002)
	must(t, s.DeleteBefore(1), "DeleteBefore(1) on an emptied-and-refilled log")
	wantBounds(t, s, 1001, 1002)
}

func testHardState(t *testing.T, s logstore.Store) {
	for _, hs := range []wire.HardState{
		{Term: 1, Vote: "n1", Commit: 0},
		{Term: 2, Vote: wire.None, Commit: 5},
		{Term: 2, Vote: "a-much-longer-node-id", Commit: 1<<64 - 1},
		{},
	} {
		must(t, s.SetHardState(hs), "SetHardState")
		got, ok, err := s.HardState()
		must(t, err, "HardState")
		if !ok || got != hs {
			t.Fatalf("HardState: got %+v, %v; want %+v, true", got, ok, hs)
		}
	}
}

func testNoAliasing(t *testing.T, s logstore.Store) {
	in := Make(1, 4, 1)
	store(t, s, in)
	in[0].Data[0] = 'X'
	in[1].Index = 99
	got, err := s.Entries(1, 4, 0)
	must(t, err, "Entries")
	got[2].Data[0] = 'Y'
	wantEntries(t, s, 1, 4, Make(1, 4, 1))
}

func testLargeEntries(t *testing.T, s logstore.Store) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 31)
	}
	want := []wire.Entry{
		{Index: 1, Term: 1, Data: big},
		{Index: 2, Term: 1, Data: big[:1<<19]},
	}
	store(t, s, want)
	wantEntries(t, s, 1, 3, want)
}

func testClosed(t *testing.T, s logstore.Store) {
	store(t, s, Make(1, 3, 1))
	must(t, s.Close(), "Close")
	_, err := s.FirstIndex()
	wantErr(t, err, logstore.ErrClosed, "FirstIndex after Close")
	_, err = s.LastIndex()
	wantErr(t, err, logstore.ErrClosed, "LastIndex after Close")
	_, err = s.Entries(1, 2, 0)
	wantErr(t, err, logstore.ErrClosed, "Entries after Close")
	wantErr(t, s.StoreEntries(Make(3, 4, 1)), logstore.ErrClosed, "StoreEntries after Close")
	wantErr(t, s.StoreEntries(nil), logstore.ErrClosed, "StoreEntries(nil) after Close")
	wantErr(t, s.DeleteBefore(2), logstore.ErrClosed, "DeleteBefore after Close")
	_, _, err = s.HardState()
	wantErr(t, err, logstore.ErrClosed, "HardState after Close")
	wantErr(t, s.SetHardState(wire.HardState{Term: 1}), logstore.ErrClosed, "SetHardState after Close")
	wantErr(t, s.Close(), logstore.ErrClosed, "second Close")
}
