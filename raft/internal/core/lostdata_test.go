package core

import (
	"slices"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// A follower that loses its disk while the leader runs answers every
// append with an empty log. Its rejections are above what the leader
// recorded as its match, with a hint below it — impossible for a correct
// follower (Log Matching), so the leader forgets the match and replicates
// the whole log to it again, instead of treating every answer as stale and
// waiting forever for entries the follower no longer has.
func TestLeaderRepairsAFollowerThatLostAcknowledgedEntries(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	nw.campaign("n1")
	for _, d := range []string{"a", "b", "c"} {
		if err := nw.propose("n1", d); err != nil {
			t.Fatal(err)
		}
	}
	before := nw.node("n1").rn.Status().Progress["n2"].Match
	if before < 4 {
		t.Fatalf("n2's match is %d before the loss, want the whole log", before)
	}

	// n2's disk is wiped; it comes back blank, with its old id.
	nw.add("n2", newMemStorage(), wire.HardState{}, nil)
	if err := nw.propose("n1", "d"); err != nil {
		t.Fatal(err)
	}
	nw.tickUntil(50, func() bool {
		return slices.Equal(nw.appliedData("n2"), nw.appliedData("n1"))
	})
	if got := nw.appliedData("n2"); !slices.Contains(got, "a") || !slices.Contains(got, "d") {
		t.Fatalf("the wiped follower applied %q, want the whole log again", got)
	}
	nw.checkLogsMatch()
}
