package core

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/mandate-raft/mandate/raft/internal/tracker"
	"github.com/mandate-raft/mandate/wire"
)

// None is the "no node" id, re-exported for brevity.
const None = wire.None

// stepFunc is the role-specific half of Step.
type stepFunc func(r *raft, m wire.Message) error

// raft is one node's consensus state. RawNode wraps it with the Ready
// protocol.
type raft struct {
	id  wire.NodeID
	cfg Config // with defaults applied

	// term and vote are the persistent hard state (with log.committed).
	// Invariant: vote is None or a node this node voted for in term.
	term uint64
	vote wire.NodeID

	state StateType
	// lead is the leader of term as far as this node knows; None if none.
	lead wire.NodeID

	log *raftLog
	trk *tracker.Tracker
	// confs are the configurations in the log above the newest committed
	// one (which is confs[0]); the last is in force. Invariant: indexes
	// increase; len(confs) == 0 only on a blank node.
	confs []confEntry

	// electionElapsed counts ticks since the last reset: on followers and
	// candidates since the last contact with a leader or the start of the
	// campaign; on the leader since the last check-quorum round.
	electionElapsed int
	// heartbeatElapsed counts the leader's ticks since its last heartbeat.
	heartbeatElapsed int
	// randomizedElectionTimeout is in [ElectionTick, 2*ElectionTick).
	randomizedElectionTimeout int
	rand                      *rand.Rand

	// leadTransferee is the target of an ongoing leadership transfer.
	leadTransferee wire.NodeID
	// leaseRevoked is set once this leader asked a follower to campaign
	// (MsgTimeoutNow): that campaign ignores followers' leases, so lease
	// reads are off for the rest of the term.
	leaseRevoked bool

	readOnly *readOnly
	// pendingReadIndexMessages wait until the leader commits an entry of
	// its term: before that its commit index may lag the cluster's.
	pendingReadIndexMessages []wire.Message

	// ticks counts every Tick (the core's only clock); pendingWrites are
	// the entry writes handed out and not yet reported durable, with the
	// tick they were handed out at, for disk-stall detection.
	ticks         uint64
	pendingWrites []pendingWrite
	leaseScratch  []uint64

	// Outputs, handed over by Ready; the hints are the sizes of the last
	// batches handed over (capped), to size the next ones.
	msgs        []wire.Message
	msgsDurable []wire.Message
	readStates  []ReadState
	msgsHint    int
	durableHint int

	step   stepFunc
	tick   func()
	logger Logger
}

func newRaft(c Config) (*raft, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &raft{
		id:       c.ID,
		cfg:      c,
		log:      newLog(c.Storage, c.Applied, c.Logger),
		trk:      tracker.New(c.MaxInflightMsgs),
		readOnly: newReadOnly(c.ReadOnlyOption),
		rand:     rand.New(rand.NewPCG(uint64(c.Seed), idHash(c.ID))),
		logger:   c.Logger,
	}
	hs := c.HardState
	if hs.Commit > r.log.lastIndex() {
		return nil, fmt.Errorf("%w: hard state commit %d is beyond the last log index %d",
			ErrInvalidConfig, hs.Commit, r.log.lastIndex())
	}
	r.term, r.vote = hs.Term, hs.Vote
	if lt := r.log.lastTerm(); lt > r.term {
		// Entries of a later term became durable but the hard state of
		// that term did not (a crash between the two writes). Our term is
		// at least the term of any entry we hold; no vote of that term
		// left this node, since vote answers wait for the hard state.
		r.logger.Warn("log holds a term newer than the hard state", "hard-state-term", r.term, "last-term", lt)
		r.term, r.vote = lt, None
	}
	r.log.committed = max(r.log.committed, hs.Commit)
	if err := r.loadConfigs(); err != nil {
		return nil, err
	}
	r.becomeFollower(r.term, None)
	r.logger.Info("raft core started", "id", r.id, "term", r.term, "commit", r.log.committed,
		"applied", r.log.applied, "last-index", r.log.lastIndex(), "voters", len(r.trk.Voters))
	return r, nil
}

// idHash mixes the node's id into its random stream, so that nodes given
// the same seed still draw different election timeouts.
func idHash(id wire.NodeID) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

func (r *raft) hardState() wire.HardState {
	return wire.HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed}
}

func (r *raft) softState() SoftState { return SoftState{Lead: r.lead, State: r.state} }

// promotable reports whether this node may campaign: it is a voter in the
// newest configuration it knows, or that configuration removes (or
// demotes) it but is not committed yet while the committed one still
// counts it as a voter. Learners, removed nodes and blank nodes never
// disrupt the cluster with elections.
//
// The second case is Raft thesis §4.2.2: until its removal commits, a
// server may be needed to elect anyone. Without it a leader that appended
// its own removal and then lost leadership would hold the longest log,
// refuse its votes to every other voter of the old configuration, and
// never campaign itself. As a candidate it counts only the voters of its
// newest configuration, itself excluded, and once leader it steps down as
// soon as the removal commits.
func (r *raft) promotable() bool {
	if r.trk.IsVoter(r.id) {
		return true
	}
	return len(r.confs) > 1 && r.configPending() && r.confs[0].cfg.IsVoter(r.id)
}

// send queues m. Messages whose promise must be durable first (a vote
// request, a vote grant, an append acknowledgement) go to msgsDurable.
func (r *raft) send(m wire.Message) {
	if m.From == None {
		m.From = r.id
	}
	switch m.Type {
	case wire.MsgVote, wire.MsgVoteResp, wire.MsgPreVote, wire.MsgPreVoteResp:
		if m.Term == 0 {
			panic(fmt.Sprintf("core: %s without a term", m.Type))
		}
	case wire.MsgProp, wire.MsgReadIndex:
		// Forwarded requests are not bound to the sender's term: the
		// leader accepts them whatever our term.
	default:
		m.Term = r.term
	}
	switch m.Type {
	case wire.MsgAppResp, wire.MsgVote, wire.MsgVoteResp, wire.MsgPreVoteResp:
		if r.coalesceAck(m) {
			return
		}
		if r.msgsDurable == nil {
			r.msgsDurable = make([]wire.Message, 0, max(msgsCapHint, r.durableHint))
		}
		r.msgsDurable = append(r.msgsDurable, m)
	default:
		if r.msgs == nil {
			// Every Ready hands its slice over, so each batch needs a new
			// one; sized like the last batch so it rarely grows.
			r.msgs = make([]wire.Message, 0, max(msgsCapHint, len(r.trk.IDs), r.msgsHint))
		}
		r.msgs = append(r.msgs, m)
	}
}

// coalesceAck folds an append acknowledgement into the previous message
// when that one acknowledges a lower or equal index to the same node in
// the same term: the leader learns the same from the higher index alone
// (a pipelined follower acknowledges many appends per Ready). Rejections
// are never folded.
func (r *raft) coalesceAck(m wire.Message) bool {
	n := len(r.msgsDurable)
	if m.Type != wire.MsgAppResp || m.Reject || n == 0 {
		return false
	}
	last := &r.msgsDurable[n-1]
	if last.Type != wire.MsgAppResp || last.Reject || last.To != m.To || last.Term != m.Term || last.Index > m.Index {
		return false
	}
	*last = m
	return true
}

// msgsCapHint is the least initial capacity of a Ready's message slices,
// maxMsgsHint the most a previous batch's size may ask for.
const (
	msgsCapHint = 4
	maxMsgsHint = 1024
)

func (r *raft) resetRandomizedElectionTimeout() {
	r.randomizedElectionTimeout = r.cfg.ElectionTick + r.rand.IntN(r.cfg.ElectionTick)
}

// reset prepares for a new role in term. A new term forgets the vote; the
// same term keeps it (a node must never vote twice in one term).
func (r *raft) reset(term uint64) {
	if term != r.term {
		r.term = term
		r.vote = None
	}
	r.lead = None
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.resetRandomizedElectionTimeout()
	r.abortLeaderTransfer()
	r.trk.ResetVotes()
	r.readOnly.reset()
	r.pendingReadIndexMessages = nil
	r.leaseRevoked = false
}

func (r *raft) becomeFollower(term uint64, lead wire.NodeID) {
	r.reset(term)
	r.step = stepFollower
	r.tick = r.tickElection
	r.follow(lead)
	r.state = StateFollower
	r.logger.Debug("became follower", "term", r.term, "leader", lead)
}

// follow records lead (None if unknown) as the leader of the current
// term. A follower that has voted for nobody in this term also records the
// leader as its vote: the leader has won the term, so that vote grants
// nothing new, but, being durable, it keeps the follower from voting for
// another candidate of the same term after a restart has made it forget
// whom it followed. (The in-memory rule alone, no vote while a leader is
// known, would not survive the restart; a node that lost its data and was
// caught up by the leader needs the durable one.)
func (r *raft) follow(lead wire.NodeID) {
	r.lead = lead
	if lead != None && r.vote == None {
		r.vote = lead
	}
}

func (r *raft) becomeCandidate() {
	if r.state == StateLeader {
		panic("core: leader cannot become candidate without stepping down")
	}
	r.reset(r.term + 1)
	r.step = stepCandidate
	r.tick = r.tickElection
	r.vote = r.id
	r.state = StateCandidate
	r.logger.Info("became candidate", "term", r.term)
}

// becomePreCandidate starts a pre-election. It changes neither term nor
// vote: a pre-candidate only asks whether it could win.
func (r *raft) becomePreCandidate() {
	if r.state == StateLeader {
		panic("core: leader cannot become pre-candidate without stepping down")
	}
	r.step = stepCandidate
	r.tick = r.tickElection
	r.trk.ResetVotes()
	r.lead = None
	r.state = StatePreCandidate
	r.logger.Debug("became pre-candidate", "term", r.term)
}

func (r *raft) becomeLeader() {
	if r.state == StateFollower {
		panic("core: follower cannot become leader without an election")
	}
	r.reset(r.term)
	r.step = stepLeader
	r.tick = r.tickHeartbeat
	r.lead = r.id
	r.state = StateLeader
	last := r.log.lastIndex()
	r.trk.ResetProgress(last + 1)
	if pr := r.trk.Progress[r.id]; pr != nil {
		// The leader counts itself only up to what it has durably; its
		// progress never probes.
		pr.BecomeReplicate()
		pr.MaybeUpdate(r.log.stableIndex())
		pr.Next = last + 1
		pr.RecentActive = true
	}
	// A no-op of the new term lets the leader commit everything before it
	// (Raft §5.4.2) and tells it when its commit index is current.
	r.appendEntries(wire.Entry{Type: wire.EntryNoop})
	r.logger.Info("became leader", "term", r.term, "last-index", r.log.lastIndex())
}

// Step is the single entry point for messages. Terms are handled here,
// once; the rest goes to the role's step function.
func (r *raft) Step(m wire.Message) error {
	switch {
	case m.Term == 0:
		// Local message, or a forwarded proposal or read request.
	case m.Term > r.term:
		if !r.handleHigherTerm(m) {
			return nil
		}
	case m.Term < r.term:
		r.handleLowerTerm(m)
		return nil
	}

	switch m.Type {
	case wire.MsgHup:
		r.hup(false)
	case wire.MsgVote, wire.MsgPreVote:
		r.handleVoteRequest(m)
	case wire.MsgStorageAppendResp:
		r.handleStorageAppendResp(m)
	case wire.MsgStorageSnapResp:
		r.handleStorageSnapResp(m)
	default:
		return r.step(r, m)
	}
	return nil
}

// handleHigherTerm moves to m's term when Raft says so, and reports
// whether m should be processed further.
func (r *raft) handleHigherTerm(m wire.Message) bool {
	if m.Type == wire.MsgVote || m.Type == wire.MsgPreVote {
		// With check-quorum, a node that heard from a leader within the
		// election timeout believes in it, and refuses to help depose it,
		// unless the leader itself asked for the election (a transfer).
		inLease := r.cfg.CheckQuorum && r.electionElapsed < r.cfg.ElectionTick &&
			(r.lead != None || r.startupLease())
		if inLease && !isTransferCampaign(m.Context) {
			r.logger.Debug("ignoring vote request within leader lease", "from", m.From,
				"msg-term", m.Term, "term", r.term, "leader", r.lead)
			return false
		}
	}
	switch {
	case m.Type == wire.MsgPreVote:
		// A pre-vote never changes the granter's term.
	case m.Type == wire.MsgPreVoteResp && !m.Reject:
		// Granted for our future term; the term moves when we campaign.
	default:
		r.logger.Debug("stepping down for a higher term", "from", m.From, "type", m.Type,
			"msg-term", m.Term, "term", r.term)
		if m.Type == wire.MsgApp || m.Type == wire.MsgHeartbeat || m.Type == wire.MsgSnap {
			r.becomeFollower(m.Term, m.From)
		} else {
			r.becomeFollower(m.Term, None)
		}
	}
	return true
}

// handleLowerTerm answers a message from an older term where the sender
// must learn it is stale, and drops it otherwise.
func (r *raft) handleLowerTerm(m wire.Message) {
	switch {
	case (r.cfg.CheckQuorum || r.cfg.PreVote) && (m.Type == wire.MsgHeartbeat || m.Type == wire.MsgApp):
		// A leader cut off from a partition whose members moved on (with
		// pre-vote or check-quorum they may never bump terms past it)
		// learns our term from this answer and steps down.
		r.send(wire.Message{To: m.From, Type: wire.MsgAppResp})
	case m.Type == wire.MsgPreVote:
		r.send(wire.Message{To: m.From, Term: r.term, Type: wire.MsgPreVoteResp, Reject: true})
	default:
		r.logger.Debug("ignoring message from an older term", "from", m.From, "type", m.Type,
			"msg-term", m.Term, "term", r.term)
	}
}
