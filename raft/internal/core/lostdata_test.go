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

// The same loss, found while the leader probes the follower (it had been
// unreachable while it restarted): a probe is an append just after the
// follower's match, so the wiped follower rejects it at exactly the match,
// not above it. A correct follower cannot do that either (it holds the
// entry at its match with the leader's term), so this too means lost
// entries; were it taken for a stale answer, the leader would probe at the
// same index for ever and the follower would never be repaired.
func TestLeaderRepairsAFollowerThatLostAcknowledgedEntriesWhileProbed(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	nw.campaign("n1")
	for _, d := range []string{"a", "b", "c"} {
		if err := nw.propose("n1", d); err != nil {
			t.Fatal(err)
		}
	}
	match := nw.node("n1").rn.Status().Progress["n2"].Match
	// n2 is unreachable while it restarts with a wiped disk: the leader
	// probes it from just after its match.
	nw.node("n1").rn.ReportUnreachable("n2")
	nw.add("n2", newMemStorage(), wire.HardState{}, nil)
	if pr := nw.node("n1").rn.Status().Progress["n2"]; pr.Next != match+1 {
		t.Fatalf("n2's progress %+v, want a probe from just after its match %d", pr, match)
	}
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
