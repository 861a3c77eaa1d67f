package wal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// logVersion is one state of the log in the model: its bounds and, for
// each index, its term (runs of consecutive indexes in one term).
type logVersion struct {
	first, last uint64 // both 0: empty
	runs        []termRun
}

type termRun struct{ from, term uint64 }

func (v *logVersion) term(index uint64) uint64 {
	t := uint64(0)
	for _, r := range v.runs {
		if r.from > index {
			break
		}
		t = r.term
	}
	return t
}

// stored returns the version after StoreEntries of [start, end] in term.
func (v *logVersion) stored(start, end, term uint64) *logVersion {
	n := &logVersion{first: v.first, last: end}
	if v.last == 0 {
		n.first = start
	}
	for _, r := range v.runs {
		if r.from < start && v.last != 0 {
			n.runs = append(n.runs, r)
		}
	}
	if len(n.runs) == 0 || n.runs[len(n.runs)-1].term != term {
		n.runs = append(n.runs, termRun{start, term})
	}
	return n
}

// deleted returns the version after DeleteBefore(index).
func (v *logVersion) deleted(index uint64) *logVersion {
	if v.last == 0 || index <= v.first {
		return v
	}
	if index > v.last {
		return &logVersion{}
	}
	return &logVersion{first: index, last: v.last, runs: v.runs}
}

// sizedEntries returns entries [lo, hi) in term with payloads whose size
// depends on index and term, so that frames straddle segment ends and
// maxBytes cuts at varying places.
func sizedEntries(lo, hi, term uint64) []wire.Entry {
	out := logstoretest.Make(lo, hi, term)
	for i := range out {
		out[i].Data = append(out[i].Data, make([]byte, (out[i].Index*37+term*11)%400)...)
	}
	return out
}

// check returns nil if Entries(lo, hi, maxBytes) returning got and err
// is what the store must answer in version v.
func (v *logVersion) check(lo, hi, maxBytes uint64, got []wire.Entry, err error) error {
	switch {
	case v.last == 0 || hi > v.last+1:
		if !errors.Is(err, logstore.ErrUnavailable) {
			return fmt.Errorf("want ErrUnavailable, got %d entries, %v", len(got), err)
		}
		return nil
	case lo < v.first:
		if !errors.Is(err, logstore.ErrCompacted) {
			return fmt.Errorf("want ErrCompacted, got %d entries, %v", len(got), err)
		}
		return nil
	case err != nil:
		return err
	}
	var want []wire.Entry
	for idx := lo; idx < hi; idx++ {
		want = append(want, sizedEntries(idx, idx+1, v.term(idx))...)
	}
	want = want[:logstore.LimitSize(want, maxBytes)]
	if len(got) != len(want) {
		return fmt.Errorf("got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if !logstoretest.EntryEqual(got[i], want[i]) {
			return fmt.Errorf("entry %d: got term %d, want term %d", want[i].Index, got[i].Term, want[i].Term)
		}
	}
	return nil
}

// Readers racing a writer that appends, replaces suffixes (repeating
// part of the old log or not), compacts and empties the log must each
// see, in every read, exactly the log of one version the writer went
// through while the read ran: the bounds and, entry for entry, the
// content, with maxBytes applied. Small segments make the writer rotate,
// cut and remove segments under the readers; the variants serve reads
// from the files only and from a mix of the cache and the files.
func TestConcurrentReadsSeeOneVersionOfTheLog(t *testing.T) {
	cases := append(variants[1:len(variants):len(variants)], struct {
		name string
		opts Options
	}{"SmallSegmentsCache", Options{SegmentSize: smallSegments, CacheEntries: 64}})
	for _, v := range cases {
		t.Run(v.name, func(t *testing.T) {
			s := openClean(t, t.TempDir(), v.opts)
			var mu sync.Mutex
			versions := []*logVersion{{}}
			// versions[:done] are states the writer reached and left
			// behind or is in; the rest, those of the call it is making.
			done := 1
			span := func() (lo, hi int) {
				mu.Lock()
				defer mu.Unlock()
				return done - 1, len(versions) - 1
			}
			get := func(i int) *logVersion {
				mu.Lock()
				defer mu.Unlock()
				return versions[i]
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for r := range 3 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(r), 7))
					for n := 0; !stop.Load() || n < 10; n++ {
						from, _ := span()
						cur := get(from)
						// Around the first index, anywhere, or around the
						// last (where the cache and the cuts are).
						lo := cur.first
						switch rng.IntN(3) {
						case 1:
							lo += uint64(rng.IntN(int(cur.last-cur.first) + 1))
						case 2:
							lo = cur.last
						}
						lo = max(lo+uint64(rng.IntN(8)), 4) - 3
						hi := lo + uint64(rng.IntN(12))
						maxBytes := uint64(rng.IntN(3)) * uint64(rng.IntN(4000))
						got, err := s.Entries(lo, hi, maxBytes)
						_, to := span()
						if lo == hi {
							if err != nil || len(got) != 0 {
								errs <- fmt.Errorf("Entries(%d, %d): %d entries, %v", lo, hi, len(got), err)
								return
							}
							continue
						}
						var why []error
						for i := from; i <= to; i++ {
							e := get(i).check(lo, hi, maxBytes, got, err)
							if e == nil {
								why = nil
								break
							}
							why = append(why, fmt.Errorf("version %d %+v: %w", i, *get(i), e))
						}
						if why != nil {
							errs <- fmt.Errorf("Entries(%d, %d, %d) matches no version in [%d, %d]: %w", lo, hi, maxBytes, from, to, errors.Join(why...))
							return
						}
						from, _ = span()
						first, err1 := s.FirstIndex()
						_, to = span()
						if err := oneOf(get, from, to, func(v *logVersion) bool { return v.first == first }); err1 != nil || err != nil {
							errs <- fmt.Errorf("FirstIndex %d, %v: %w", first, err1, err)
							return
						}
						from, _ = span()
						last, err1 := s.LastIndex()
						_, to = span()
						if err := oneOf(get, from, to, func(v *logVersion) bool { return v.last == last }); err1 != nil || err != nil {
							errs <- fmt.Errorf("LastIndex %d, %v: %w", last, err1, err)
							return
						}
					}
				})
			}
			rng := rand.New(rand.NewPCG(1, 2))
			term := uint64(1)
			// do runs op, which takes the log through states (the last is
			// where it ends).
			do := func(op func() error, states ...*logVersion) bool {
				mu.Lock()
				versions = append(versions, states...)
				mu.Unlock()
				err := op()
				mu.Lock()
				done = len(versions)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return false
				}
				return true
			}
			for range 400 {
				cur := get(len(versions) - 1)
				var start uint64
				switch k := rng.IntN(10); {
				case cur.last == 0:
					start = uint64(1 + rng.IntN(50))
					if cur.first != 0 {
						start = cur.first
					}
				case k < 5:
					start = cur.last + 1
				case k < 8: // replace a suffix in a new term
					term++
					start = cur.first + uint64(rng.IntN(int(cur.last-cur.first+1)))
				case k < 9: // compact, or empty the log
					index := cur.first + uint64(rng.IntN(int(cur.last-cur.first+3)))
					if !do(func() error { return s.DeleteBefore(index) }, cur.deleted(index)) {
						break
					}
					continue
				default: // repeat stored entries, then add some
					start = cur.first + uint64(rng.IntN(int(cur.last-cur.first+1)))
					n := cur.last - start + 1 + uint64(rng.IntN(3))
					var b []wire.Entry
					for i := start; i < start+n; i++ {
						t := cur.term(i)
						if i > cur.last {
							t = term
						}
						b = append(b, sizedEntries(i, i+1, t)...)
					}
					next := cur
					for _, e := range b {
						next = next.stored(e.Index, e.Index, e.Term)
					}
					if !do(func() error { return s.StoreEntries(b) }, next) {
						break
					}
					continue
				}
				end := start + uint64(rng.IntN(8))
				// A replacement is a cut, then an append, but readers
				// wait from the cut until the new entries are in: they
				// never see the log cut in between.
				if !do(func() error { return s.StoreEntries(sizedEntries(start, end+1, term)) }, cur.stored(start, end, term)) {
					break
				}
			}
			stop.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			final := get(len(versions) - 1)
			if final.last != 0 {
				got, err := s.Entries(final.first, final.last+1, 0)
				if err := final.check(final.first, final.last+1, 0, got, err); err != nil {
					t.Fatalf("the final log: %v", err)
				}
			}
		})
	}
}

// oneOf returns nil if ok holds for one of the versions from to to.
func oneOf(get func(int) *logVersion, from, to int, ok func(*logVersion) bool) error {
	for i := from; i <= to; i++ {
		if ok(get(i)) {
			return nil
		}
	}
	return fmt.Errorf("no version in [%d, %d] has it", from, to)
}
