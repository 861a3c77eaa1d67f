package logstore

import (
	"fmt"

	"github.com/mandate-raft/mandate/wire"
)

// CheckRange reports whether [lo, hi) may be read from a log holding
// [first, last] (both 0 when empty), by the rules of LogStore.Entries: an
// error when lo > hi, one wrapping ErrUnavailable or ErrCompacted, or nil.
// An empty range (lo == hi) is always readable.
func CheckRange(lo, hi, first, last uint64) error {
	switch {
	case lo > hi:
		return fmt.Errorf("logstore: invalid range [%d, %d)", lo, hi)
	case lo == hi:
		return nil
	case last == 0 || hi > last+1:
		return fmt.Errorf("%w: [%d, %d) requested, last index %d", ErrUnavailable, lo, hi, last)
	case lo < first:
		return fmt.Errorf("%w: index %d requested, first index %d", ErrCompacted, lo, first)
	}
	return nil
}

// CheckAppend reports whether entries may be stored in a log holding
// [first, last] (both 0 when empty), by the rules of
// LogStore.StoreEntries: it returns an error wrapping ErrNonContiguous or
// ErrCompacted, or nil. Implementations call it before writing anything.
func CheckAppend(entries []wire.Entry, first, last uint64) error {
	if len(entries) == 0 {
		return nil
	}
	start := entries[0].Index
	if start == 0 {
		return fmt.Errorf("%w: entry index 0", ErrNonContiguous)
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Index != entries[i-1].Index+1 {
			return fmt.Errorf("%w: index %d follows %d in the batch",
				ErrNonContiguous, entries[i].Index, entries[i-1].Index)
		}
	}
	if last == 0 {
		return nil // an empty log accepts any start (the base after a snapshot)
	}
	if start > last+1 {
		return fmt.Errorf("%w: batch starts at %d, last index is %d",
			ErrNonContiguous, start, last)
	}
	if start < first {
		return fmt.Errorf("%w: batch starts at %d, first index is %d",
			ErrCompacted, start, first)
	}
	return nil
}

// LimitSize returns how many of entries, from the first, fit in maxBytes by
// the rule of LogStore.Entries: at least one (if there are any), then as
// long as the running total of Size stays within maxBytes. maxBytes 0 means
// no limit.
func LimitSize(entries []wire.Entry, maxBytes uint64) int {
	if maxBytes == 0 || len(entries) == 0 {
		return len(entries)
	}
	total := entries[0].Size()
	n := 1
	for ; n < len(entries); n++ {
		total += entries[n].Size()
		if total > maxBytes {
			break
		}
	}
	return n
}
