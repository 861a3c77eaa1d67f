package boltdb

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// A long random sequence of appends, suffix replacements (starting inside
// runs and at their keys), compactions (likewise) and reopenings leaves
// the store holding exactly what a plain model of the log holds, read
// over the whole log and over random ranges: from bolt (no cache), and
// through a cache smaller than the log.
func TestRunsFollowAModelOfTheLog(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run("", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			dir := t.TempDir()
			opts := Options{CacheEntries: -1, UnsafeNoSync: true}
			if seed%2 == 0 {
				opts.CacheEntries = 100
			}
			s, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { s.Close() }()
			var model []wire.Entry // model[i] has index first+i
			first := uint64(1)
			term := uint64(1)
			last := func() uint64 { return first + uint64(len(model)) - 1 }
			for step := 0; step < 300; step++ {
				switch op := rng.IntN(10); {
				case op < 5 || len(model) == 0: // append
					n := 1 + rng.IntN(150)
					ents := logstoretest.Make(last()+1, last()+1+uint64(n), term)
					if err := s.StoreEntries(ents); err != nil {
						t.Fatalf("step %d: append %d: %v", step, n, err)
					}
					model = append(model, ents...)
				case op < 7: // replace a suffix
					term++
					start := first + uint64(rng.IntN(len(model)))
					n := 1 + rng.IntN(150)
					ents := logstoretest.Make(start, start+uint64(n), term)
					if err := s.StoreEntries(ents); err != nil {
						t.Fatalf("step %d: replace from %d: %v", step, start, err)
					}
					model = append(model[:start-first], ents...)
				case op < 8: // compact
					index := first + uint64(rng.IntN(len(model)))
					if err := s.DeleteBefore(index); err != nil {
						t.Fatalf("step %d: DeleteBefore(%d): %v", step, index, err)
					}
					model = model[index-first:]
					first = index
				default:
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					if s, err = Open(dir, opts); err != nil {
						t.Fatalf("step %d: reopen: %v", step, err)
					}
				}
				gotFirst, _ := s.FirstIndex()
				gotLast, _ := s.LastIndex()
				if gotFirst != first || gotLast != last() {
					t.Fatalf("step %d: bounds [%d, %d], want [%d, %d]", step, gotFirst, gotLast, first, last())
				}
				lo := first + uint64(rng.IntN(len(model)))
				hi := lo + 1 + uint64(rng.IntN(int(last()-lo+1)))
				checkRange(t, s, model, first, lo, hi)
			}
			checkRange(t, s, model, first, first, last()+1)
			if _, err := s.Entries(first-1, first, 0); first > 1 && !errors.Is(err, logstore.ErrCompacted) {
				t.Fatalf("Entries below the first index: %v, want ErrCompacted", err)
			}
		})
	}
}

func checkRange(t *testing.T, s *Store, model []wire.Entry, first, lo, hi uint64) {
	t.Helper()
	got, err := s.Entries(lo, hi, 0)
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", lo, hi, err)
	}
	if uint64(len(got)) != hi-lo {
		t.Fatalf("Entries(%d, %d): %d entries", lo, hi, len(got))
	}
	for i, e := range got {
		if want := model[lo-first+uint64(i)]; !logstoretest.EntryEqual(e, want) {
			t.Fatalf("Entries(%d, %d)[%d] = %+v, want %+v", lo, hi, i, e, want)
		}
	}
}

// A compaction inside a run writes the run's tail under the new first
// index and kills every older key in one transaction; if the clean-up
// after it never happens, reopening still finds the compacted log.
func TestCompactionInsideARunSurvivesAnInterruptedCleanup(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	for i := uint64(1); i < 41; i += 20 {
		if err := s.StoreEntries(logstoretest.Make(i, i+20, 1)); err != nil {
			t.Fatal(err)
		}
	}
	key, rec, err := s.findRun(30, 1)
	if err != nil || key != 21 {
		t.Fatalf("findRun(30) = %d, %v; want the run at 21", key, err)
	}
	// What DeleteBefore(30) writes, without the DeleteRange after it.
	if err := s.splitRun(key, rec, 30, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, dir)
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 30 || last != 40 {
		t.Fatalf("bounds after reopen: [%d, %d], want [30, 40]", first, last)
	}
	checkRange(t, s, logstoretest.Make(30, 41, 1), 30, 30, 41)
}

// A batch longer than a run is stored as several runs, each a record of
// its own.
func TestALongBatchIsSplitIntoRuns(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	if err := s.StoreEntries(logstoretest.Make(1, 1+3*maxRunEntries, 1)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint64{1, 1 + maxRunEntries, 1 + 2*maxRunEntries} {
		rec, found, err := s.recordAt(want)
		if err != nil || !found || rec.tombstone || rec.n != maxRunEntries {
			t.Fatalf("run %d at %d: %+v, found %v, %v", i, want, rec, found, err)
		}
	}
	if _, found, _ := s.recordAt(2); found {
		t.Fatal("a key inside a run holds a record")
	}
}

// Entries served by the cache share one array for their data; appending to
// one entry's data or writing into it changes neither its neighbours nor
// what the store holds.
func TestCachedEntriesShareNoWritableMemory(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	want := logstoretest.Make(1, 4, 1)
	if err := s.StoreEntries(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Entries(1, 4, 0)
	if err != nil || len(got) != 3 {
		t.Fatalf("Entries(1, 4): %d entries, %v", len(got), err)
	}
	got[0].Data = append(got[0].Data, "XXXXXXXX"...)
	if !logstoretest.EntryEqual(got[1], want[1]) {
		t.Fatalf("appending to entry 1's data changed entry 2: %q", got[1].Data)
	}
	got[1].Data[0] = 'Z'
	if !logstoretest.EntryEqual(got[2], want[2]) {
		t.Fatalf("writing into entry 2's data changed entry 3: %q", got[2].Data)
	}
	again, err := s.Entries(1, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !logstoretest.EntryEqual(again[i], want[i]) {
			t.Fatalf("entry %d after the caller wrote into a copy: %+v, want %+v", i+1, again[i], want[i])
		}
	}
}

// A file written before runs existed holds one typeEntry record per entry.
// Such a file opens with the same bounds, reads the same, and takes
// appends, suffix replacements and compactions that cut across old
// records and new runs.
func TestAFileWrittenBeforeRunsStillWorks(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	// What the previous version wrote for StoreEntries(Make(1, 101, 1)):
	// a record per entry, in one transaction.
	enc := newEncoder()
	var logs []*raft.Log
	for _, e := range logstoretest.Make(1, 101, 1) {
		rec, err := enc.records([]wire.Entry{e}, 0, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		l := *rec[0]
		l.Data = append([]byte(nil), l.Data...)
		logs = append(logs, &l)
	}
	if err := s.db.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openT(t, dir)
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	model := logstoretest.Make(1, 101, 1)
	check := func(what string) {
		t.Helper()
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if want := model[len(model)-1].Index; first != model[0].Index || last != want {
			t.Fatalf("%s: bounds [%d, %d], want [%d, %d]", what, first, last, model[0].Index, want)
		}
		checkRange(t, s, model, model[0].Index, model[0].Index, last+1)
	}
	check("reopened")
	if err := s.StoreEntries(logstoretest.Make(101, 201, 1)); err != nil {
		t.Fatal(err)
	}
	model = append(model, logstoretest.Make(101, 201, 1)...)
	check("after appending runs")
	// Replace from inside the old records, across into the runs.
	if err := s.StoreEntries(logstoretest.Make(90, 150, 2)); err != nil {
		t.Fatal(err)
	}
	model = append(model[:89], logstoretest.Make(90, 150, 2)...)
	check("after replacing a suffix")
	if err := s.DeleteBefore(50); err != nil {
		t.Fatal(err)
	}
	model = model[49:]
	check("after compacting old records")
	if err := s.DeleteBefore(120); err != nil {
		t.Fatal(err)
	}
	model = model[120-50:]
	check("after compacting inside a run")
	s.Close()
	var err error
	if s, err = Open(dir, Options{CacheEntries: -1}); err != nil {
		t.Fatal(err)
	}
	check("reopened without a cache")
}
