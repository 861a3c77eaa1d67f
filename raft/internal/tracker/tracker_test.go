package tracker

import (
	"slices"
	"testing"

	"github.com/mandate-raft/mandate/raft/internal/quorum"
	"github.com/mandate-raft/mandate/wire"
)

func cfg(voters []wire.NodeID, learners ...wire.NodeID) wire.Configuration {
	var c wire.Configuration
	for _, id := range voters {
		c.Servers = append(c.Servers, wire.Server{ID: id})
	}
	for _, id := range learners {
		c.Servers = append(c.Servers, wire.Server{ID: id, Role: wire.Learner})
	}
	return c
}

func TestCommittedCountsVotersOnly(t *testing.T) {
	tr := New(4)
	tr.SetConfig(cfg([]wire.NodeID{"a", "b", "c"}, "l"), nil, 1)
	for id, m := range map[wire.NodeID]uint64{"a": 9, "b": 4, "c": 2, "l": 100} {
		tr.Progress[id].Match = m
	}
	if got := tr.Committed(); got != 4 {
		t.Fatalf("Committed = %d, want 4 (the learner's 100 does not count)", got)
	}
}

func TestSetConfigKeepsProgressOfStayingMembers(t *testing.T) {
	tr := New(4)
	tr.SetConfig(cfg([]wire.NodeID{"a", "b"}), nil, 10)
	tr.Progress["b"].Match = 7
	tr.SetConfig(cfg([]wire.NodeID{"a"}, "b", "c"), nil, 12)
	if pr := tr.Progress["b"]; pr.Match != 7 || !pr.IsLearner {
		t.Fatalf("b after demotion: %v", pr)
	}
	if pr := tr.Progress["c"]; pr.Next != 12 || !pr.IsLearner || !pr.RecentActive {
		t.Fatalf("new learner c: %v", pr)
	}
	if !slices.Equal(tr.IDs, []wire.NodeID{"a", "b", "c"}) || !slices.Equal(tr.Voters, []wire.NodeID{"a"}) {
		t.Fatalf("ids %v voters %v", tr.IDs, tr.Voters)
	}
	// Removed, but still leaving: replicated to, never counted.
	tr.SetConfig(cfg([]wire.NodeID{"a"}), []wire.NodeID{"b"}, 12)
	if !tr.IsMember("b") || tr.IsVoter("b") || tr.IsMember("c") {
		t.Fatalf("member b %v voter b %v member c %v", tr.IsMember("b"), tr.IsVoter("b"), tr.IsMember("c"))
	}
	tr.SetConfig(cfg([]wire.NodeID{"a"}), nil, 12)
	if tr.IsMember("b") || len(tr.Progress) != 1 {
		t.Fatalf("b still tracked after it left: %v", tr.Progress)
	}
}

func TestVotesAndQuorumActivity(t *testing.T) {
	tr := New(4)
	tr.SetConfig(cfg([]wire.NodeID{"a", "b", "c", "d", "e"}, "l"), nil, 1)
	tr.RecordVote("a", true)
	tr.RecordVote("l", true) // learners do not vote
	tr.RecordVote("b", true)
	if _, _, res := tr.TallyVotes(); res != quorum.VotePending {
		t.Fatalf("2 of 5: %v", res)
	}
	tr.RecordVote("b", false) // first answer counts
	tr.RecordVote("c", true)
	if g, r, res := tr.TallyVotes(); res != quorum.VoteWon || g != 3 || r != 0 {
		t.Fatalf("3 of 5: granted %d rejected %d %v", g, r, res)
	}
	tr.ResetVotes()
	for _, id := range []wire.NodeID{"b", "c", "d"} {
		tr.RecordVote(id, false)
	}
	if _, _, res := tr.TallyVotes(); res != quorum.VoteLost {
		t.Fatalf("3 rejections of 5: %v", res)
	}

	tr.ResetRecentActive("a")
	if tr.QuorumActive("a") {
		t.Fatal("quorum active with only self")
	}
	tr.Progress["l"].RecentActive = true
	tr.Progress["b"].RecentActive = true
	if tr.QuorumActive("a") {
		t.Fatal("a learner counted towards quorum activity")
	}
	tr.Progress["c"].RecentActive = true
	if !tr.QuorumActive("a") {
		t.Fatal("self + 2 of 5 voters not a quorum")
	}
}

func TestResetProgressForANewLeader(t *testing.T) {
	tr := New(4)
	tr.SetConfig(cfg([]wire.NodeID{"a", "b"}, "l"), nil, 1)
	tr.Progress["b"].Match = 5
	tr.Progress["b"].BecomeReplicate()
	tr.Progress["b"].Inflights.Add(9)
	tr.ResetProgress(20)
	pr := tr.Progress["b"]
	if pr.Match != 0 || pr.Next != 20 || pr.State != StateProbe || pr.Inflights.Count() != 0 {
		t.Fatalf("after reset: %v", pr)
	}
	if !tr.Progress["l"].IsLearner {
		t.Fatal("reset forgot the learner role")
	}
}
