package core

import (
	"fmt"

	"github.com/mandate-raft/mandate/wire"
)

// RawNode is one Raft node's consensus state. It is not safe for concurrent
// use: one goroutine (the runtime's event loop, or the simulator) owns it.
type RawNode struct {
	raft     *raft
	prevSoft SoftState
	prevHard wire.HardState
}

// NewRawNode returns a core restarted from cfg.Storage and cfg.HardState,
// as a follower. The configuration is the newest one found in the log or
// the snapshot; a node with neither is a blank node that waits to be
// contacted by a leader of the cluster it will join.
func NewRawNode(cfg Config) (*RawNode, error) {
	r, err := newRaft(cfg)
	if err != nil {
		return nil, err
	}
	return &RawNode{raft: r, prevSoft: r.softState(), prevHard: cfg.HardState}, nil
}

// Tick advances the node's logical clock by one tick.
func (rn *RawNode) Tick() {
	rn.raft.ticks++
	rn.raft.tick()
}

// CatchUp advances the clock by n ticks that passed while the node could
// not run (a paused or starved process). Leases age by every one of them,
// as they must; but the timeouts they would have fired (an election, the
// leader's check-quorum and heartbeats, the disk-stall step-down) wait for
// the next Tick, so that the runtime can first step what arrived meanwhile
// (the leader's heartbeats, the followers' answers, the write that became
// durable) instead of acting on its apparent absence.
func (rn *RawNode) CatchUp(n int) {
	if n <= 0 {
		return
	}
	r := rn.raft
	r.ticks += uint64(n)
	limit := r.randomizedElectionTimeout - 1
	if r.state == StateLeader {
		limit = r.cfg.ElectionTick - 1
		r.heartbeatElapsed = max(r.heartbeatElapsed, min(r.heartbeatElapsed+n, r.cfg.HeartbeatTick-1))
	}
	r.electionElapsed = max(r.electionElapsed, min(r.electionElapsed+n, limit))
}

// Step feeds one message into the node: a local message from the runtime
// or a message from a peer (see StepPeer). It returns ErrProposalDropped for
// a proposal that was not appended or forwarded.
func (rn *RawNode) Step(m wire.Message) error {
	if !m.Type.Valid() {
		return fmt.Errorf("%w: unknown message type %d", ErrInvalidMessage, m.Type)
	}
	return rn.raft.Step(m)
}

// StepPeer steps a message that arrived from the network, refusing local
// message types and senders that are not members (unless the message comes
// from a leader with a term at least ours, as a new member first hears).
// Refused messages are logged at debug level and return an error.
func (rn *RawNode) StepPeer(m wire.Message) error {
	r := rn.raft
	if err := r.checkPeerMessage(m); err != nil {
		r.logger.Debug("refusing peer message", "msg", m.String(), "error", err)
		return err
	}
	return r.Step(m)
}

// checkPeerMessage validates a message from the network before Step.
func (r *raft) checkPeerMessage(m wire.Message) error {
	switch {
	case !m.Type.Valid():
		return fmt.Errorf("%w: unknown message type %d", ErrInvalidMessage, m.Type)
	case m.Type.IsLocal():
		return fmt.Errorf("%w: %s", ErrStepLocalMsg, m.Type)
	case m.Type == wire.MsgFoundingQuery || m.Type == wire.MsgFoundingQueryResp:
		// The runtime answers these before a core exists to; they carry
		// nothing Raft acts on.
		return fmt.Errorf("%w: %s is for the runtime", ErrInvalidMessage, m.Type)
	case m.From == None || m.From == r.id:
		return fmt.Errorf("%w: sender %q", ErrUnknownPeer, m.From)
	case m.To != None && m.To != r.id:
		return fmt.Errorf("%w: addressed to %q", ErrInvalidMessage, m.To)
	case m.Term == 0 && m.Type != wire.MsgProp && m.Type != wire.MsgReadIndex:
		// Only forwarded requests travel without a term; anything else
		// would be mistaken for a local message.
		return fmt.Errorf("%w: %s without a term", ErrInvalidMessage, m.Type)
	case m.Type == wire.MsgSnap && m.Snapshot == nil:
		return fmt.Errorf("%w: MsgSnap without snapshot", ErrInvalidMessage)
	case m.Type == wire.MsgApp && !validAppend(m):
		return fmt.Errorf("%w: malformed entries", ErrInvalidMessage)
	}
	if r.trk.IsMember(m.From) {
		return nil
	}
	// A server being added learns of the cluster from its leader before it
	// knows the configuration that includes it.
	// A leader that removed itself hands over with MsgTimeoutNow to a
	// server whose configuration no longer lists it.
	leaderMsg := m.Type == wire.MsgApp || m.Type == wire.MsgHeartbeat || m.Type == wire.MsgSnap ||
		m.Type == wire.MsgTimeoutNow
	if leaderMsg && m.Term >= r.term {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnknownPeer, m.From)
}

// Campaign starts an election now (MsgHup).
func (rn *RawNode) Campaign() error {
	return rn.raft.Step(wire.Message{Type: wire.MsgHup, From: rn.raft.id})
}

// Propose appends entries (Type EntryNormal, Data, Origin, ProposalID and
// Time set by the caller; Index and Term set by the core) on the leader, or
// forwards them to the leader from a follower.
func (rn *RawNode) Propose(entries ...wire.Entry) error {
	return rn.raft.Step(wire.Message{Type: wire.MsgProp, From: rn.raft.id, Entries: entries})
}

// ProposeConfChange appends a membership change on the leader. It returns
// ErrProposalDropped on a non-leader or during a leadership transfer,
// ErrConfChangePending while the previous change is uncommitted or the
// leader has not yet committed an entry of its term, and an error wrapping
// ErrInvalidConfChange for a change that makes no sense.
func (rn *RawNode) ProposeConfChange(cc ConfChange) error {
	return rn.raft.proposeConfChange(cc)
}

// ReadIndex requests a read index for rctx; the answer arrives as a
// ReadState carrying rctx in a later Ready. Contexts must be unique among
// pending requests; a request that cannot be served (no leader, leadership
// lost) gets no answer, so callers time out and retry.
func (rn *RawNode) ReadIndex(rctx []byte) {
	_ = rn.raft.Step(wire.Message{Type: wire.MsgReadIndex, Context: rctx})
}

// ReadIndexSafe is ReadIndex confirmed by a heartbeat round to a quorum
// even on a node configured with ReadOnlyLeaseBased: for callers that want
// no clock assumption on this request. Followers forward the request with
// that demand.
func (rn *RawNode) ReadIndexSafe(rctx []byte) {
	_ = rn.raft.Step(wire.Message{Type: wire.MsgReadIndex, Context: rctx, Index: readIndexSafe})
}

// TransferLeader asks the leader to hand leadership to to. On a follower
// the request is forwarded to the leader it knows (and dropped without
// one); to the same effect on any voter.
func (rn *RawNode) TransferLeader(to wire.NodeID) {
	_ = rn.raft.Step(wire.Message{Type: wire.MsgTransferLeader, From: to})
}

// ReportUnreachable tells the leader that a message to id could not be sent.
func (rn *RawNode) ReportUnreachable(id wire.NodeID) {
	_ = rn.raft.Step(wire.Message{Type: wire.MsgUnreachable, From: id})
}

// ReportSnapshot tells the leader that a snapshot transfer to id ended.
func (rn *RawNode) ReportSnapshot(id wire.NodeID, ok bool) {
	_ = rn.raft.Step(wire.Message{Type: wire.MsgSnapStatus, From: id, Reject: !ok})
}

// HasReady reports whether Ready would return a non-empty batch.
func (rn *RawNode) HasReady() bool {
	r := rn.raft
	return r.softState() != rn.prevSoft ||
		r.hardState() != rn.prevHard ||
		r.log.unstable.nextSnapshot() != nil ||
		len(r.log.unstable.nextEntries()) > 0 ||
		r.log.hasNextCommittedEntries() ||
		len(r.msgs) > 0 || len(r.msgsDurable) > 0 || len(r.readStates) > 0
}

// Ready hands over the work accumulated since the last call.
func (rn *RawNode) Ready() Ready {
	r := rn.raft
	rd := Ready{
		Entries:          r.log.unstable.nextEntries(),
		CommittedEntries: r.log.nextCommittedEntries(r.cfg.MaxCommittedSizePerReady),
		Messages:         r.msgs,
		DurableMessages:  r.msgsDurable,
		ReadStates:       r.readStates,
	}
	if s := r.log.unstable.nextSnapshot(); s != nil {
		snap := *s
		rd.Snapshot = &snap
	}
	if ss := r.softState(); ss != rn.prevSoft {
		rn.prevSoft = ss
		// Copy into a fresh variable: taking ss's address would move it to
		// the heap on every call, changed or not.
		changed := ss
		rd.SoftState = &changed
	}
	if hs := r.hardState(); hs != rn.prevHard {
		rd.HardState = hs
		rd.MustSync = hs.Term != rn.prevHard.Term || hs.Vote != rn.prevHard.Vote
		rn.prevHard = hs
	}
	rd.MustSync = rd.MustSync || len(rd.Entries) > 0 || rd.Snapshot != nil

	// Hand everything over.
	if n := len(rd.Entries); n > 0 {
		r.notePendingWrite(rd.Entries[n-1].Index)
	}
	r.log.unstable.acceptInProgress()
	if rd.Snapshot != nil {
		r.log.applied = rd.Snapshot.Index
	}
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.applied = rd.CommittedEntries[n-1].Index
	}
	r.msgsHint, r.durableHint = min(len(rd.Messages), maxMsgsHint), min(len(rd.DurableMessages), maxMsgsHint)
	r.msgs, r.msgsDurable, r.readStates = nil, nil, nil
	return rd
}

// Status returns a copy of the node's state.
func (rn *RawNode) Status() Status {
	r := rn.raft
	cfg, idx := r.config()
	st := Status{
		ID:             r.id,
		HardState:      r.hardState(),
		SoftState:      r.softState(),
		Applied:        r.log.applied,
		LastIndex:      r.log.lastIndex(),
		StableIndex:    r.log.stableIndex(),
		Config:         cfg.Clone(),
		ConfigIndex:    idx,
		LeadTransferee: r.leadTransferee,
	}
	if r.state == StateLeader {
		st.Progress = make(map[wire.NodeID]Progress, len(r.trk.IDs))
		for _, id := range r.trk.IDs {
			pr := r.trk.Progress[id]
			st.Progress[id] = Progress{
				Match: pr.Match, Next: pr.Next, State: ProgressState(pr.State),
				RecentActive: pr.RecentActive, Inflight: pr.Inflights.Count(), IsLearner: pr.IsLearner,
			}
		}
	}
	return st
}

// Bootstrap returns the entry that starts a new cluster with configuration
// c: the runtime of every founding member persists it as entry 1 (term 1)
// before creating the core.
func Bootstrap(c wire.Configuration) (wire.Entry, error) {
	if err := c.Validate(); err != nil {
		return wire.Entry{}, err
	}
	cc := c.Clone()
	return wire.Entry{Index: 1, Term: 1, Type: wire.EntryConfig, Config: &cc}, nil
}
