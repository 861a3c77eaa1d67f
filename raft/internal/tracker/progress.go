package tracker

import "fmt"

// State is how the leader replicates to one follower.
type State uint8

// The progress states of Raft's flow control.
const (
	// StateProbe: the leader does not know where the follower's log
	// matches; it sends one append per heartbeat interval and waits.
	StateProbe State = iota
	// StateReplicate: the follower's match is known; appends stream
	// optimistically, up to the window's size unacknowledged.
	StateReplicate
	// StateSnapshot: a snapshot is being sent; no appends until it ends.
	StateSnapshot
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateProbe:
		return "Probe"
	case StateReplicate:
		return "Replicate"
	case StateSnapshot:
		return "Snapshot"
	}
	return "State(?)"
}

// Progress is the leader's view of one follower (or of itself).
type Progress struct {
	// Match is the highest index known to be durably replicated on the
	// follower; Next is the index of the next entry to send.
	// Invariant: Match < Next.
	Match, Next uint64
	// State is the flow-control state.
	State State
	// PendingSnapshot is the index of the snapshot being sent, in
	// StateSnapshot; 0 otherwise.
	PendingSnapshot uint64
	// RecentActive is set whenever the follower answers, and cleared by
	// the leader at each check-quorum round.
	RecentActive bool
	// LeaseTick is one more than the leader's tick at which it sent the
	// newest heartbeat this follower answered; 0 if none in this term. The follower
	// refuses votes for an election timeout after receiving it, which is
	// what a lease read relies on.
	LeaseTick uint64
	// ProbeSent is set in StateProbe once an append was sent, and cleared
	// when the follower answers: a probing leader has at most one append
	// outstanding.
	ProbeSent bool
	// Inflights is the pipelining window used in StateReplicate.
	Inflights *Inflights
	// IsLearner marks a non-voting member.
	IsLearner bool
}

// NewProgress returns a probing progress that will send next from next.
func NewProgress(next uint64, window int, learner bool) *Progress {
	if next == 0 {
		next = 1
	}
	return &Progress{Next: next, Inflights: NewInflights(window), IsLearner: learner}
}

func (pr *Progress) reset(s State) {
	pr.State = s
	pr.ProbeSent = false
	pr.PendingSnapshot = 0
	pr.Inflights.Reset()
}

// BecomeProbe moves to StateProbe. After a snapshot, the next index is past
// the snapshot (the follower either installed it or will reject and be
// probed further back); otherwise it is just past the match.
func (pr *Progress) BecomeProbe() {
	if pr.State == StateSnapshot {
		pending := pr.PendingSnapshot
		pr.reset(StateProbe)
		pr.Next = max(pr.Match+1, pending+1)
		return
	}
	pr.reset(StateProbe)
	pr.Next = pr.Match + 1
}

// BecomeReplicate moves to StateReplicate, streaming from Match+1.
func (pr *Progress) BecomeReplicate() {
	pr.reset(StateReplicate)
	pr.Next = pr.Match + 1
}

// BecomeSnapshot moves to StateSnapshot while the snapshot at index is
// sent.
func (pr *Progress) BecomeSnapshot(index uint64) {
	pr.reset(StateSnapshot)
	pr.PendingSnapshot = index
}

// ForgetMatch drops what the follower acknowledged, for a follower that
// lost its data: it is probed from the start again, and counts towards a
// quorum only for what it acknowledges from now on.
func (pr *Progress) ForgetMatch() {
	pr.Match = 0
	pr.BecomeProbe()
}

// MaybeUpdate records that the follower durably holds entries up to n. It
// returns false for a stale acknowledgement (n <= Match). It also ends a
// probe wait: the follower answered.
func (pr *Progress) MaybeUpdate(n uint64) bool {
	updated := false
	if n > pr.Match {
		pr.Match = n
		updated = true
		pr.ProbeSent = false
	}
	pr.Next = max(pr.Next, n+1)
	return updated
}

// SentEntries records an append of entries ending at lastIndex (n entries,
// possibly none) just sent to the follower.
func (pr *Progress) SentEntries(n int, lastIndex uint64) {
	switch pr.State {
	case StateReplicate:
		if n > 0 {
			pr.Next = lastIndex + 1
			pr.Inflights.Add(lastIndex)
		}
	case StateProbe:
		// One append at a time while probing, empty or not: the answer
		// tells where the logs match.
		pr.ProbeSent = true
	default:
		panic(fmt.Sprintf("tracker: sending entries in state %v", pr.State))
	}
}

// MaybeDecrTo handles a rejection of the append whose previous index was
// rejected, with the follower's hint that its log may match the leader's
// up to hint. It returns false when the rejection is stale (answers an
// append the leader has already moved past).
func (pr *Progress) MaybeDecrTo(rejected, hint uint64) bool {
	if pr.State == StateReplicate {
		// In replicate, any rejection of an index above Match means an
		// append was lost or the follower's log diverged: probe from Match.
		if rejected <= pr.Match {
			return false
		}
		pr.Next = pr.Match + 1
		return true
	}
	// While probing only the answer to the last probe counts. A rejection
	// at or below Match can only come from a follower that lost entries it
	// had acknowledged as durable: backing off below Match would not help
	// (and would loop), so it is ignored like a stale answer.
	if pr.Next-1 != rejected || rejected <= pr.Match {
		return false
	}
	pr.Next = max(min(rejected, hint+1), pr.Match+1)
	pr.ProbeSent = false
	return true
}

// IsPaused reports whether the leader must not send appends now.
func (pr *Progress) IsPaused() bool {
	switch pr.State {
	case StateProbe:
		return pr.ProbeSent
	case StateReplicate:
		return pr.Inflights.Full()
	}
	return true
}

// String summarises pr for logs.
func (pr *Progress) String() string {
	return fmt.Sprintf("%s match=%d next=%d inflight=%d active=%v learner=%v",
		pr.State, pr.Match, pr.Next, pr.Inflights.Count(), pr.RecentActive, pr.IsLearner)
}
