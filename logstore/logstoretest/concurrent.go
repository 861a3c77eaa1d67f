package logstoretest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// testConcurrent runs one writer (appends, suffix replacements, compaction,
// hard state) against several readers. Each reader must only ever see
// contiguous runs of well-formed entries; racing with the writer may cost
// it ErrCompacted or ErrUnavailable, never anything else.
func testConcurrent(t *testing.T, s logstore.Store) {
	const batches = 30
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 3 {
		wg.Go(func() {
			for reads := 0; !done.Load() || reads < 5; reads++ {
				if err := readOnce(s); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	next := uint64(1)
	for b := range batches {
		term := uint64(b/10 + 1)
		if b%7 == 6 && next > 3 {
			next -= 3 // a new term overwrites the last few entries
		}
		if err := s.StoreEntries(Make(next, next+10, term)); err != nil {
			t.Errorf("StoreEntries in batch %d: %v", b, err)
			break
		}
		next += 10
		if err := s.SetHardState(wire.HardState{Term: term, Vote: "n1", Commit: next - 5}); err != nil {
			t.Errorf("SetHardState: %v", err)
			break
		}
		if b%10 == 9 {
			if err := s.DeleteBefore(next - 20); err != nil {
				t.Errorf("DeleteBefore: %v", err)
				break
			}
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	last, err := s.LastIndex()
	must(t, err, "LastIndex")
	if last != next-1 {
		t.Fatalf("LastIndex after the writer: got %d, want %d", last, next-1)
	}
}

func readOnce(s logstore.Store) error {
	if _, _, err := s.HardState(); err != nil {
		return fmt.Errorf("HardState: %w", err)
	}
	first, err := s.FirstIndex()
	if err != nil {
		return fmt.Errorf("FirstIndex: %w", err)
	}
	last, err := s.LastIndex()
	if err != nil {
		return fmt.Errorf("LastIndex: %w", err)
	}
	if first == 0 || last < first {
		return nil
	}
	got, err := s.Entries(first, last+1, 0)
	if errors.Is(err, logstore.ErrCompacted) || errors.Is(err, logstore.ErrUnavailable) {
		return nil // the writer moved the bounds between the calls
	}
	if err != nil {
		return fmt.Errorf("Entries(%d, %d): %w", first, last+1, err)
	}
	for i, e := range got {
		if e.Index != first+uint64(i) {
			return fmt.Errorf("Entries(%d, %d): entry %d has index %d", first, last+1, i, e.Index)
		}
		if !bytes.Equal(e.Data, Payload(e.Index, e.Term)) {
			return fmt.Errorf("entry %d (term %d) has data %q", e.Index, e.Term, e.Data)
		}
	}
	return nil
}
