package sim

import (
	"fmt"

	"github.com/mandate-raft/mandate/wire"
)

// simLog is a log as one node holds it: a base (the snapshot it starts
// after) and the entries after it, each with the hash chain of its prefix.
// The simulator keeps two per node: the durable one the core reads through
// Storage, and the held one (durable plus every write handed out but not
// yet durable), which is what the safety checks look at.
//
// Invariant: ents[i].Index == base+1+i and len(chains) == len(ents).
type simLog struct {
	base      uint64 // index of the last entry covered by the snapshot
	baseTerm  uint64
	baseChain uint64
	ents      []wire.Entry
	chains    []uint64
}

func (l *simLog) lastIndex() uint64 { return l.base + uint64(len(l.ents)) }

// term returns the term at i, and false if i is outside [base, lastIndex].
func (l *simLog) term(i uint64) (uint64, bool) {
	switch {
	case i == l.base:
		return l.baseTerm, true
	case i < l.base || i > l.lastIndex():
		return 0, false
	}
	return l.ents[i-l.base-1].Term, true
}

func (l *simLog) lastTerm() uint64 {
	t, _ := l.term(l.lastIndex())
	return t
}

// chainAt returns the prefix hash at i, and false if i is outside
// [base, lastIndex].
func (l *simLog) chainAt(i uint64) (uint64, bool) {
	switch {
	case i == l.base:
		return l.baseChain, true
	case i < l.base || i > l.lastIndex():
		return 0, false
	}
	return l.chains[i-l.base-1], true
}

func (l *simLog) entry(i uint64) (wire.Entry, bool) {
	if i <= l.base || i > l.lastIndex() {
		return wire.Entry{}, false
	}
	return l.ents[i-l.base-1], true
}

// appendEntries stores ents, replacing everything at or after
// ents[0].Index, and returns how many entries were removed. Entries at or
// below the base are skipped (they are covered by the snapshot). A batch
// that is not contiguous, or leaves a gap, is an error: the core broke the
// Ready contract.
func (l *simLog) appendEntries(ents []wire.Entry) (removed int, err error) {
	for i := 1; i < len(ents); i++ {
		if ents[i].Index != ents[i-1].Index+1 {
			return 0, fmt.Errorf("entries not consecutive: %d follows %d", ents[i].Index, ents[i-1].Index)
		}
	}
	for len(ents) > 0 && ents[0].Index <= l.base {
		ents = ents[1:]
	}
	if len(ents) == 0 {
		return 0, nil
	}
	first := ents[0].Index
	if first > l.lastIndex()+1 {
		return 0, fmt.Errorf("entries start at %d, leaving a gap after last index %d", first, l.lastIndex())
	}
	keep := int(first - l.base - 1)
	removed = len(l.ents) - keep
	// Copy on truncation so that slices handed out earlier never change.
	if removed > 0 {
		l.ents = append([]wire.Entry(nil), l.ents[:keep]...)
		l.chains = append([]uint64(nil), l.chains[:keep]...)
	}
	prev, _ := l.chainAt(first - 1)
	for i := range ents {
		prev = chainNext(prev, &ents[i])
		l.ents = append(l.ents, ents[i])
		l.chains = append(l.chains, prev)
	}
	return removed, nil
}

// installSnapshot makes (index, term) the base: entries after it survive
// only if the log holds (index, term) itself, as the Ready contract says.
func (l *simLog) installSnapshot(index, term, chain uint64) {
	if t, ok := l.term(index); ok && t == term && index >= l.base {
		l.compact(index)
		return
	}
	l.base, l.baseTerm, l.baseChain = index, term, chain
	l.ents, l.chains = nil, nil
}

// compact drops the entries up to index, which must be in [base, lastIndex].
func (l *simLog) compact(index uint64) {
	if index <= l.base || index > l.lastIndex() {
		return
	}
	k := index - l.base
	l.baseTerm = l.ents[k-1].Term
	l.baseChain = l.chains[k-1]
	l.base = index
	l.ents = append([]wire.Entry(nil), l.ents[k:]...)
	l.chains = append([]uint64(nil), l.chains[k:]...)
}

// clone returns a copy that shares no mutable state with l.
func (l *simLog) clone() simLog {
	c := *l
	c.ents = append([]wire.Entry(nil), l.ents...)
	c.chains = append([]uint64(nil), l.chains...)
	return c
}
