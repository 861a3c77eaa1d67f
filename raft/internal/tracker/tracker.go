package tracker

import (
	"slices"

	"github.com/mandate-raft/mandate/raft/internal/quorum"
	"github.com/mandate-raft/mandate/wire"
)

// Tracker holds the configuration in force, the progress of every member
// and the votes of the current election.
//
// Invariant: Progress has exactly one entry per id in IDs; IDs is sorted,
// and every walk over members goes through it so that the core's outputs
// never depend on map iteration order.
type Tracker struct {
	// Config is the configuration in force.
	Config wire.Configuration
	// IDs lists every member (voters and learners), sorted.
	IDs []wire.NodeID
	// Voters lists the voting members, sorted.
	Voters []wire.NodeID
	// Progress is each member's replication progress.
	Progress map[wire.NodeID]*Progress

	votes   map[wire.NodeID]bool
	window  int
	scratch []uint64
}

// New returns a tracker with no members whose progresses get pipelining
// windows of the given size.
func New(window int) *Tracker {
	return &Tracker{
		Progress: map[wire.NodeID]*Progress{},
		votes:    map[wire.NodeID]bool{},
		window:   window,
	}
}

// SetConfig makes c the configuration in force. Leaving lists servers of
// older, not yet superseded configurations that c no longer has: they keep
// a progress (so the leader still replicates to them, and they learn of
// their removal) but never count towards any quorum. Members that stay keep
// their progress (with their role updated); new members start probing at
// next; everyone else is forgotten.
func (t *Tracker) SetConfig(c wire.Configuration, leaving []wire.NodeID, next uint64) {
	t.Config = c.Clone()
	t.IDs = t.IDs[:0]
	for _, s := range c.Servers {
		t.IDs = append(t.IDs, s.ID)
	}
	for _, id := range leaving {
		if _, ok := c.Server(id); !ok && !slices.Contains(t.IDs, id) {
			t.IDs = append(t.IDs, id)
		}
	}
	slices.Sort(t.IDs)
	t.Voters = c.Voters()
	for id := range t.Progress {
		if !slices.Contains(t.IDs, id) {
			delete(t.Progress, id)
		}
	}
	for _, id := range t.IDs {
		s, inConfig := c.Server(id)
		learner := !inConfig || s.Role == wire.Learner
		if pr, ok := t.Progress[id]; ok {
			pr.IsLearner = learner
			continue
		}
		pr := NewProgress(next, t.window, learner)
		// A new member gets one election timeout of grace before it counts
		// as inactive for check-quorum.
		pr.RecentActive = true
		t.Progress[id] = pr
	}
}

// ResetProgress gives every member a fresh probing progress starting at
// next (a new leader knows nothing about its followers).
func (t *Tracker) ResetProgress(next uint64) {
	for _, id := range t.IDs {
		pr := t.Progress[id]
		learner := pr.IsLearner
		inf := pr.Inflights
		inf.Reset()
		*pr = Progress{Next: next, Inflights: inf, IsLearner: learner}
	}
}

// IsVoter reports whether id votes in the configuration in force.
func (t *Tracker) IsVoter(id wire.NodeID) bool {
	_, ok := slices.BinarySearch(t.Voters, id)
	return ok
}

// IsMember reports whether id is a voter, a learner or a leaving server
// (one the leader still replicates to).
func (t *Tracker) IsMember(id wire.NodeID) bool {
	_, ok := t.Progress[id]
	return ok
}

// Committed returns the largest index a majority of voters have durably
// (by their Match). It does not check the term of that entry.
func (t *Tracker) Committed() uint64 {
	t.scratch = t.scratch[:0]
	for _, id := range t.Voters {
		t.scratch = append(t.scratch, t.Progress[id].Match)
	}
	return quorum.CommittedIndex(t.scratch)
}

// QuorumActive reports whether a majority of voters (counting self as
// active) answered since the last ResetRecentActive.
func (t *Tracker) QuorumActive(self wire.NodeID) bool {
	n := 0
	for _, id := range t.Voters {
		if id == self || t.Progress[id].RecentActive {
			n++
		}
	}
	return len(t.Voters) > 0 && n >= quorum.Majority(len(t.Voters))
}

// ResetRecentActive clears every member's RecentActive except self's.
func (t *Tracker) ResetRecentActive(self wire.NodeID) {
	for _, id := range t.IDs {
		t.Progress[id].RecentActive = id == self
	}
}

// ResetVotes forgets the current election's votes.
func (t *Tracker) ResetVotes() { clear(t.votes) }

// RecordVote records id's answer, keeping the first answer of each voter.
func (t *Tracker) RecordVote(id wire.NodeID, granted bool) {
	if _, ok := t.votes[id]; !ok {
		t.votes[id] = granted
	}
}

// TallyVotes counts the recorded votes of voters and decides the election.
func (t *Tracker) TallyVotes() (granted, rejected int, result quorum.VoteResult) {
	for _, id := range t.Voters {
		v, ok := t.votes[id]
		if !ok {
			continue
		}
		if v {
			granted++
		} else {
			rejected++
		}
	}
	return granted, rejected, quorum.Tally(len(t.Voters), granted, rejected)
}

// Visit calls f for every member in id order.
func (t *Tracker) Visit(f func(id wire.NodeID, pr *Progress)) {
	for _, id := range t.IDs {
		f(id, t.Progress[id])
	}
}
