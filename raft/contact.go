package raft

import (
	"slices"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// contactTracker remembers when this node last heard from its leader and
// what commit index the leader reported, and, on a leader, when each peer
// last answered: the local knowledge behind BoundedStaleness reads. The
// event loop writes it; Read consults it from any goroutine.
type contactTracker struct {
	mu sync.Mutex
	// term is the newest term a leader message was seen in; leader, commit
	// and heard describe that term's leader as last heard.
	term   uint64
	leader wire.NodeID
	commit uint64
	heard  time.Time
	// answered is when each peer last answered this node as leader, in
	// ackTerm.
	ackTerm  uint64
	answered map[wire.NodeID]time.Time
	// nextPromoteCheck rate-limits the learner catch-up check.
	nextPromoteCheck time.Time
}

// noteContact records what m, just stepped by the core without error,
// tells about the leader's contact. It runs on the event loop.
func (n *Node) noteContact(m wire.Message) {
	switch m.Type {
	case wire.MsgApp, wire.MsgHeartbeat, wire.MsgSnap:
	case wire.MsgAppResp, wire.MsgHeartbeatResp:
		if n.loop.soft.State == core.StateLeader {
			n.noteAnswer(m)
		}
		return
	default:
		return
	}
	c := &n.contact
	now := n.cfg.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Term < c.term {
		return // a deposed leader's late message
	}
	if m.Term > c.term || m.From != c.leader {
		c.term, c.leader, c.commit = m.Term, m.From, 0
	}
	// A heartbeat's Commit is capped at what the follower holds, so it
	// may understate the leader's; appends carry the real one, and follow
	// at once whenever the follower lags.
	c.commit = max(c.commit, m.Commit)
	if m.Type == wire.MsgSnap && m.Snapshot != nil {
		c.commit = max(c.commit, m.Snapshot.Index)
	}
	c.heard = now
}

// noteAnswer records a peer's answer to this leader.
func (n *Node) noteAnswer(m wire.Message) {
	term := n.pub.term.Load()
	if m.Term < term {
		return
	}
	c := &n.contact
	now := n.cfg.Clock.Now()
	c.mu.Lock()
	if c.ackTerm != term || c.answered == nil {
		c.ackTerm = term
		c.answered = map[wire.NodeID]time.Time{}
	}
	c.answered[m.From] = now
	check := n.cfg.AutoPromoteLearners && !now.Before(c.nextPromoteCheck)
	if check {
		c.nextPromoteCheck = now.Add(n.cfg.HeartbeatTimeout)
	}
	c.mu.Unlock()
	if check {
		n.maybePromoteLearners()
	}
}

// checkStaleness answers a BoundedStaleness read from local knowledge.
func (n *Node) checkStaleness(rc ReadConsistency) error {
	maxLag := rc.MaxLag
	if maxLag <= 0 {
		maxLag = n.cfg.ElectionTimeout
	}
	applied := n.pub.applied.Load()
	term := n.pub.term.Load()
	now := n.cfg.Clock.Now()
	e := &StaleError{MaxEntries: rc.MaxEntries, MaxLag: maxLag}
	if n.State() == Leader {
		if commit := n.pub.commit.Load(); commit > applied {
			e.Entries = commit - applied
		}
		lag, ok := n.quorumLag(term, now)
		e.Lag, e.NeverHeard = lag, !ok
	} else {
		lead, _ := n.Leader()
		c := &n.contact
		c.mu.Lock()
		if lead == wire.None || c.leader != lead || c.term < term {
			e.NeverHeard = true
		} else {
			e.Lag = now.Sub(c.heard)
			if c.commit > applied {
				e.Entries = c.commit - applied
			}
		}
		c.mu.Unlock()
	}
	if e.NeverHeard || e.Entries > rc.MaxEntries || e.Lag > maxLag {
		return e
	}
	return nil
}

// quorumLag returns how long ago a quorum of voters (this leader counting
// as answering now) last answered this leader in term, and false if no
// quorum has answered in term.
func (n *Node) quorumLag(term uint64, now time.Time) (time.Duration, bool) {
	conf := n.pub.config.Load()
	if conf == nil {
		return 0, false
	}
	voters := conf.Voters()
	if len(voters) == 0 {
		return 0, false
	}
	const never = time.Duration(1<<63 - 1)
	lags := make([]time.Duration, 0, len(voters))
	c := &n.contact
	c.mu.Lock()
	for _, id := range voters {
		switch at, ok := c.answered[id]; {
		case id == n.id:
			lags = append(lags, 0)
		case ok && c.ackTerm == term:
			lags = append(lags, max(0, now.Sub(at)))
		default:
			lags = append(lags, never)
		}
	}
	c.mu.Unlock()
	slices.Sort(lags)
	lag := lags[len(voters)/2]
	return lag, lag != never
}
