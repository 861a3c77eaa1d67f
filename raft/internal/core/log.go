package core

import (
	"errors"
	"fmt"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// raftLog is the node's log: the durable part behind Storage, the part not
// yet durable in unstable, and the commit and apply cursors.
//
// Invariants: applied <= committed; committed <= lastIndex();
// CommittedEntries are only ever handed out up to stableIndex().
type raftLog struct {
	storage  Storage
	unstable unstable
	// committed is the highest index known to be committed.
	committed uint64
	// applied is the last index handed out for applying (in
	// CommittedEntries, or as a snapshot).
	applied uint64
	logger  Logger
}

func newLog(s Storage, applied uint64, logger Logger) *raftLog {
	l := &raftLog{storage: s, logger: logger}
	first := max(s.FirstIndex(), 1) // a store may say 0 for "empty"
	last := s.LastIndex()
	l.unstable.offset = last + 1
	l.unstable.offsetInProgress = last + 1
	// Everything before the first entry is in the snapshot, hence applied
	// and committed.
	l.committed = max(first-1, applied)
	l.applied = max(first-1, applied)
	return l
}

func (l *raftLog) firstIndex() uint64 {
	if s := l.unstable.snapshot; s != nil {
		return s.Index + 1
	}
	return l.storage.FirstIndex()
}

func (l *raftLog) lastIndex() uint64 {
	if i, ok := l.unstable.maybeLastIndex(); ok {
		return i
	}
	return l.storage.LastIndex()
}

// stableIndex is the last index known durable and current: everything
// before the unstable tail. With a snapshot not yet durable nothing after
// it counts as stable (and, as its index is below offset, neither does it).
func (l *raftLog) stableIndex() uint64 {
	if l.unstable.snapshot != nil {
		return l.unstable.snapshot.Index - 1
	}
	return l.unstable.offset - 1
}

func (l *raftLog) lastTerm() uint64 {
	t, err := l.term(l.lastIndex())
	if err != nil {
		// The last index is always readable: it is in unstable, or the
		// storage's last entry, or its snapshot.
		panic(fmt.Sprintf("core: term of the last index %d: %v", l.lastIndex(), err))
	}
	return t
}

// term returns the term of entry i, for i in [firstIndex-1, lastIndex].
func (l *raftLog) term(i uint64) (uint64, error) {
	if t, ok := l.unstable.maybeTerm(i); ok {
		return t, nil
	}
	if l.unstable.snapshot != nil {
		// A snapshot pending install hides the storage's stale log.
		if i < l.unstable.snapshot.Index {
			return 0, logstore.ErrCompacted
		}
		return 0, logstore.ErrUnavailable
	}
	if i+1 < l.firstIndex() {
		return 0, logstore.ErrCompacted
	}
	if i > l.lastIndex() {
		return 0, logstore.ErrUnavailable
	}
	t, err := l.storage.Term(i)
	if err != nil {
		return 0, fmt.Errorf("core: term of index %d: %w", i, err)
	}
	return t, nil
}

// zeroTermOnOutOfBounds turns a bounds error into term 0 (a term no entry
// has), so comparisons simply fail.
func (l *raftLog) termOrZero(i uint64) uint64 {
	t, err := l.term(i)
	if err != nil {
		if !errors.Is(err, logstore.ErrCompacted) && !errors.Is(err, logstore.ErrUnavailable) {
			l.logger.Error("reading the log failed", "index", i, "error", err)
		}
		return 0
	}
	return t
}

func (l *raftLog) matchTerm(i, t uint64) bool {
	gt, err := l.term(i)
	return err == nil && gt == t
}

// isUpToDate reports whether a log ending at (lasti, term) is at least as
// up to date as ours (Raft §5.4.1): later last term, or same term and at
// least as long.
func (l *raftLog) isUpToDate(lasti, term uint64) bool {
	lt := l.lastTerm()
	return term > lt || (term == lt && lasti >= l.lastIndex())
}

// findConflict returns the index of the first entry of ents that is not
// already in the log with the same term (a conflict or a new entry), or 0
// when all of them match. Matching entries are never rewritten: a delayed
// append must not cut off entries that were appended after it.
func (l *raftLog) findConflict(ents []wire.Entry) uint64 {
	for i := range ents {
		if !l.matchTerm(ents[i].Index, ents[i].Term) {
			return ents[i].Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term, and that term. Both sides of fast back-off use it: the follower to
// hint, the leader to jump a whole term per round trip. Terms never
// decrease along a log, so it binary-searches: a long divergent tail costs
// a few reads, not one per entry. Where the answer lies below what can be
// read (compacted), it returns that boundary with term 0.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	lo := l.firstIndex() - 1 // the snapshot's index: its term is readable
	if index < lo {
		return index, 0
	}
	t, err := l.term(index)
	if err != nil {
		return index, 0
	}
	if t <= term {
		return index, t
	}
	tlo, err := l.term(lo)
	if err != nil || tlo > term {
		if lo == 0 {
			return 0, 0
		}
		return lo - 1, 0
	}
	// Invariant: term(lo) <= term < term(hi).
	hi := index
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		tm, err := l.term(mid)
		if err != nil {
			return mid, 0
		}
		if tm <= term {
			lo, tlo = mid, tm
		} else {
			hi = mid
		}
	}
	return lo, tlo
}

// maybeAppend appends ents after (index, logTerm) if the log matches there,
// moves the commit index up to min(committed, last new index) and returns
// the last new index, and the index from which entries were written (0 if
// all of them were already there). A conflict at or below the commit
// index means the sender broke Raft's guarantees; the append is refused.
func (l *raftLog) maybeAppend(index, logTerm, committed uint64, ents []wire.Entry) (lastNew, from uint64, ok bool) {
	if !l.matchTerm(index, logTerm) {
		return 0, 0, false
	}
	lastNew = index + uint64(len(ents))
	ci := l.findConflict(ents)
	if ci != 0 {
		if ci <= l.committed {
			l.logger.Error("refusing an append that conflicts with committed entries",
				"conflict-index", ci, "commit", l.committed)
			return 0, 0, false
		}
		l.append(ents[ci-(index+1):])
	}
	l.commitTo(min(committed, lastNew))
	return lastNew, ci, true
}

// append adds ents (consecutive, starting at most at lastIndex+1) to the
// unstable tail, replacing whatever follows ents[0].Index.
func (l *raftLog) append(ents []wire.Entry) {
	if len(ents) == 0 {
		return
	}
	if ents[0].Index <= l.committed {
		panic(fmt.Sprintf("core: appending at %d would overwrite committed %d", ents[0].Index, l.committed))
	}
	l.unstable.truncateAndAppend(ents)
}

func (l *raftLog) commitTo(i uint64) {
	if i > l.committed {
		if i > l.lastIndex() {
			panic(fmt.Sprintf("core: commit %d beyond last index %d", i, l.lastIndex()))
		}
		l.committed = i
	}
}

// slice returns entries [lo, hi) of at most maxSize bytes (0 = no limit;
// at least one entry is always returned).
func (l *raftLog) slice(lo, hi, maxSize uint64) ([]wire.Entry, error) {
	if lo >= hi {
		return nil, nil
	}
	if lo < l.firstIndex() {
		return nil, logstore.ErrCompacted
	}
	if hi > l.lastIndex()+1 {
		return nil, logstore.ErrUnavailable
	}
	off := l.unstable.offset
	var ents []wire.Entry
	if lo < off {
		sents, err := l.storage.Entries(lo, min(hi, off), maxSize)
		if err != nil {
			return nil, fmt.Errorf("core: entries [%d, %d): %w", lo, min(hi, off), err)
		}
		if uint64(len(sents)) < min(hi, off)-lo || hi <= off {
			return sents, nil
		}
		ents = sents
	}
	if hi > off {
		uents := l.unstable.slice(max(lo, off), hi)
		if len(ents) == 0 {
			ents = uents
		} else {
			ents = append(ents[:len(ents):len(ents)], uents...)
		}
	}
	return limitSize(ents, maxSize), nil
}

// limitSize keeps the longest prefix of ents within maxSize bytes, and at
// least one entry.
func limitSize(ents []wire.Entry, maxSize uint64) []wire.Entry {
	if maxSize == 0 || len(ents) == 0 {
		return ents
	}
	size := ents[0].Size()
	n := 1
	for ; n < len(ents); n++ {
		size += ents[n].Size()
		if size > maxSize {
			break
		}
	}
	return ents[:n:n]
}

// nextCommittedEntries returns the committed, durable, not yet handed-out
// entries, at most maxSize bytes.
func (l *raftLog) nextCommittedEntries(maxSize uint64) []wire.Entry {
	if !l.hasNextCommittedEntries() {
		return nil
	}
	hi := min(l.committed, l.stableIndex()) + 1
	ents, err := l.slice(l.applied+1, hi, maxSize)
	if err != nil {
		l.logger.Error("reading committed entries failed", "from", l.applied+1, "to", hi-1, "error", err)
		return nil
	}
	return ents
}

func (l *raftLog) hasNextCommittedEntries() bool {
	if l.unstable.snapshot != nil {
		// Nothing is applied on top of a snapshot that is not installed.
		return false
	}
	return min(l.committed, l.stableIndex()) > l.applied
}

// restore makes snapshot s the log's new base, discarding everything.
func (l *raftLog) restore(s wire.SnapshotMeta) {
	l.committed = s.Index
	l.unstable.restore(s)
}
