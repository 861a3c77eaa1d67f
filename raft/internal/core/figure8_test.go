package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// TestFigure8EntryOfAnEarlierTermOnAMajorityIsNotCommitted plays Figure 8
// of the Raft paper on five nodes: an entry of term 2 reaches a majority
// under the leader of term 4 and must still not be committed, because the
// node that led term 3 can be elected and overwrite it.
func TestFigure8EntryOfAnEarlierTermOnAMajorityIsNotCommitted(t *testing.T) {
	nw := newNetwork(t, ids(5), func(c *Config) { c.MaxSizePerMsg = 1 })
	electAndSettle(t, nw, "n1") // term 2, no-op at 2 everywhere

	// (a) n1 replicates X (index 3, term 2) to n2 only.
	for _, to := range []wire.NodeID{"n3", "n4", "n5"} {
		nw.cut[[2]wire.NodeID{"n1", to}] = true
	}
	_ = nw.propose("n1", "X")
	if tm, _ := nw.node("n2").store.Term(3); tm != 2 {
		t.Fatal("n2 did not get X")
	}

	// (b) n1 crashes; n5 wins term 3 with n3 and n4 and appends its no-op
	// at index 3, which reaches nobody before n5 crashes too.
	nw.heal()
	nw.isolate("n1")
	nw.isolate("n2")
	nw.drop = func(m wire.Message) bool { return m.From == "n5" && m.Type == wire.MsgApp }
	nw.campaign("n5")
	if nw.state("n5") != StateLeader || nw.term("n5") != 3 {
		t.Fatalf("n5 is %v in term %d, want leader of term 3", nw.state("n5"), nw.term("n5"))
	}
	if tm, _ := nw.node("n5").store.Term(3); tm != 3 {
		t.Fatal("n5 has no term-3 entry at index 3")
	}

	// (c) n5 crashes; n1 comes back and wins term 4 with n2, n3, n4. It
	// replicates X to n3 (now on n1, n2, n3: a majority) while its own
	// term-4 entries are lost on the way.
	nw.heal()
	nw.isolate("n5")
	nw.restart("n1", func(c *Config) { c.MaxSizePerMsg = 1 })
	nw.drop = func(m wire.Message) bool {
		// Lose every append that would put a term-4 entry in a follower's
		// log (appends it would reject anyway go through: they carry the
		// back-off).
		for _, e := range m.Entries {
			if e.Term == 4 {
				tm, err := nw.node(m.To).store.Term(m.Index)
				return err == nil && tm == m.LogTerm
			}
		}
		return false
	}
	for nw.state("n1") != StateLeader {
		nw.campaign("n1")
	}
	if tm, _ := nw.node("n3").store.Term(3); tm != 2 {
		t.Fatal("X did not reach n3")
	}
	if got := nw.commit("n1"); got >= 3 {
		t.Fatalf("n1 committed %d: X (term 2) committed by counting replicas", got)
	}

	// (d) n1 crashes; n5 returns and is elected by n2, n3, n4 (its last
	// term, 3, beats their 2) and overwrites X. Had X been committed, a
	// committed entry would now be lost.
	nw.heal()
	nw.drop = nil
	nw.isolate("n1")
	nw.restart("n5", func(c *Config) { c.MaxSizePerMsg = 1 })
	for nw.state("n5") != StateLeader {
		nw.campaign("n5")
	}
	_ = nw.propose("n5", "Y")
	for _, id := range []wire.NodeID{"n2", "n3", "n4", "n5"} {
		if tm, _ := nw.node(id).store.Term(3); tm != 3 {
			t.Fatalf("%s holds term %d at index 3, want n5's term-3 entry", id, tm)
		}
		for _, d := range nw.appliedData(id) {
			if d == "X" {
				t.Fatalf("%s applied X", id)
			}
		}
		if got := nw.appliedData(id); len(got) != 1 || got[0] != "Y" {
			t.Fatalf("%s applied %v, want [Y]", id, got)
		}
	}
	// n1 rejoins and its X is replaced too.
	nw.heal()
	nw.tick()
	nw.tick()
	nw.checkLogsMatch()
	if tm, _ := nw.node("n1").store.Term(3); tm != 3 {
		t.Fatalf("n1 still holds term %d at index 3", tm)
	}
}
