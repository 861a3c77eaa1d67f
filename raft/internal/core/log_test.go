package core

import (
	"math/rand/v2"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// findConflictByTermLinear is the definition findConflictByTerm must
// agree with: walk down from index to the first entry of term <= term.
func findConflictByTermLinear(l *raftLog, index, term uint64) (uint64, uint64) {
	for ; ; index-- {
		t, err := l.term(index)
		if err != nil {
			return index, 0
		}
		if t <= term {
			return index, t
		}
		if index == 0 {
			return 0, 0
		}
	}
}

func TestFindConflictByTermMatchesItsDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := 0; round < 200; round++ {
		// A random log with non-decreasing terms, maybe compacted.
		n := 1 + rng.IntN(60)
		ents := make([]wire.Entry, n)
		term := uint64(1)
		for i := range ents {
			if rng.IntN(4) == 0 {
				term += uint64(1 + rng.IntN(2))
			}
			ents[i] = wire.Entry{Index: uint64(i + 1), Term: term}
		}
		st := newMemStorageWith(ents...)
		if rng.IntN(3) == 0 {
			st.compact(uint64(1+rng.IntN(n)), voters("n1"))
		}
		l := newLog(st, 0, discardLogger{})
		for q := 0; q < 20; q++ {
			index := uint64(rng.IntN(n + 1))
			qt := uint64(rng.IntN(int(term) + 2))
			gi, gt := l.findConflictByTerm(index, qt)
			wi, wt := findConflictByTermLinear(l, index, qt)
			if gi != wi || gt != wt {
				t.Fatalf("round %d: findConflictByTerm(%d, %d) = (%d, %d), want (%d, %d)", round, index, qt, gi, gt, wi, wt)
			}
		}
	}
}
