package sim

import (
	"errors"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
)

func TestSimLogAppendTruncatesAtFirstIndex(t *testing.T) {
	var l simLog
	if _, err := l.appendEntries(ents(1, 1, 5)); err != nil {
		t.Fatal(err)
	}
	before, _ := l.chainAt(3)
	removed, err := l.appendEntries(ents(2, 4, 4))
	if err != nil || removed != 2 {
		t.Fatalf("removed %d, err %v; want 2, nil", removed, err)
	}
	if l.lastIndex() != 4 || l.lastTerm() != 2 {
		t.Fatalf("last (%d, %d), want (4, 2)", l.lastIndex(), l.lastTerm())
	}
	if after, _ := l.chainAt(3); after != before {
		t.Fatal("the kept prefix's chain changed")
	}
	if _, err := l.appendEntries(ents(2, 7, 7)); err == nil {
		t.Fatal("a gap was accepted")
	}
}

func TestSimLogSnapshotKeepsMatchingSuffix(t *testing.T) {
	var l simLog
	if _, err := l.appendEntries(ents(1, 1, 5)); err != nil {
		t.Fatal(err)
	}
	ch, _ := l.chainAt(3)
	l.installSnapshot(3, 1, ch)
	if l.base != 3 || l.lastIndex() != 5 {
		t.Fatalf("log [%d..%d], want [3..5]", l.base, l.lastIndex())
	}
	l.installSnapshot(4, 9, 42) // conflicts with (4, 1): everything goes
	if l.base != 4 || l.lastIndex() != 4 || l.baseChain != 42 {
		t.Fatalf("log [%d..%d] chain %d, want [4..4] chain 42", l.base, l.lastIndex(), l.baseChain)
	}
}

func TestMemStorageBounds(t *testing.T) {
	d := &durable{}
	if _, err := d.log.appendEntries(ents(1, 1, 5)); err != nil {
		t.Fatal(err)
	}
	d.log.compact(2)
	st := memStorage{d: d}
	if st.FirstIndex() != 3 || st.LastIndex() != 5 {
		t.Fatalf("first %d last %d, want 3, 5", st.FirstIndex(), st.LastIndex())
	}
	if _, err := st.Entries(2, 4, 0); !errors.Is(err, logstore.ErrCompacted) {
		t.Fatalf("Entries below first: %v", err)
	}
	if _, err := st.Entries(3, 7, 0); !errors.Is(err, logstore.ErrUnavailable) {
		t.Fatalf("Entries beyond last: %v", err)
	}
	if got, err := st.Entries(3, 6, 1); err != nil || len(got) != 1 {
		t.Fatalf("Entries with a tiny limit: %d entries, %v; want 1", len(got), err)
	}
	if term, err := st.Term(2); err != nil || term != 1 {
		t.Fatalf("Term(snapshot index) = %d, %v", term, err)
	}
	if _, err := st.Term(1); !errors.Is(err, logstore.ErrCompacted) {
		t.Fatalf("Term below snapshot: %v", err)
	}
}

func TestEventQueueOrdersByTimeThenFIFO(t *testing.T) {
	s := newSim(Config{Seed: 1, Scenario: Scenario{Nodes: 1}})
	var got []int
	for i, at := range []Time{5, 1, 5, 3, 1} {
		s.after(at, func() { got = append(got, i) })
	}
	s.runUntil(10)
	want := []int{1, 4, 3, 0, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
