package core

import "github.com/mandate-raft/mandate/wire"

// stepFollower handles messages for followers.
func stepFollower(r *raft, m wire.Message) error {
	switch m.Type {
	case wire.MsgProp:
		if r.lead == None {
			r.logger.Debug("dropping proposal: no leader", "term", r.term)
			return ErrProposalDropped
		}
		if r.cfg.DisableProposalForwarding {
			r.logger.Debug("dropping proposal: forwarding disabled", "term", r.term, "leader", r.lead)
			return ErrProposalDropped
		}
		m.To = r.lead
		r.send(m)
	case wire.MsgApp:
		r.electionElapsed = 0
		r.follow(m.From)
		r.handleAppendEntries(m)
	case wire.MsgHeartbeat:
		r.electionElapsed = 0
		r.follow(m.From)
		r.handleHeartbeat(m)
	case wire.MsgSnap:
		r.electionElapsed = 0
		r.follow(m.From)
		r.handleSnapshot(m)
	case wire.MsgTransferLeader, wire.MsgReadIndex:
		if r.lead == None {
			r.logger.Debug("dropping request: no leader", "type", m.Type, "term", r.term)
			return nil
		}
		if m.Type == wire.MsgTransferLeader {
			r.forwardTransferLeader(m)
			return nil
		}
		m.To = r.lead
		r.send(m)
	case wire.MsgTimeoutNow:
		r.logger.Info("campaigning at the leader's request", "from", m.From, "term", r.term)
		// The leader is handing over: no pre-vote, and followers' leases
		// do not apply to this campaign.
		r.hup(true)
	case wire.MsgReadIndexResp:
		r.readStates = append(r.readStates, ReadState{Index: m.Index, RequestCtx: m.Context})
	default:
		r.logger.Debug("follower ignoring message", "type", m.Type, "from", m.From)
	}
	return nil
}

// validAppend reports whether m's entries are a well-formed run: indexes
// consecutive after m.Index, terms non-decreasing, at least m.LogTerm and
// at most the leader's term.
func validAppend(m wire.Message) bool {
	prevTerm := m.LogTerm
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Index != m.Index+1+uint64(i) || e.Term < prevTerm || e.Term > m.Term {
			return false
		}
		if e.Type == wire.EntryConfig && e.Config == nil {
			return false
		}
		prevTerm = e.Term
	}
	return true
}

// handleAppendEntries answers a leader's MsgApp. The acknowledgement is
// durable-only: the leader counts it towards commit.
func (r *raft) handleAppendEntries(m wire.Message) {
	if !validAppend(m) {
		r.logger.Debug("ignoring malformed append", "from", m.From, "index", m.Index, "entries", len(m.Entries))
		return
	}
	if m.Index < r.log.committed {
		// Everything up to our commit index matches the leader's log; tell
		// it where to continue.
		r.send(wire.Message{To: m.From, Type: wire.MsgAppResp, Index: r.log.committed})
		return
	}
	if lastNew, from, ok := r.log.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries); ok {
		if from != 0 {
			r.onEntriesWritten(m.Entries[from-(m.Index+1):])
		}
		r.pruneConfigs()
		r.send(wire.Message{To: m.From, Type: wire.MsgAppResp, Index: lastNew})
		return
	}
	// Fast back-off hint: the largest index <= the probed one whose term is
	// <= the leader's term there, so the leader can skip a whole term of
	// mismatches per round trip.
	hintIndex := min(m.Index, r.log.lastIndex())
	hintIndex, hintTerm := r.log.findConflictByTerm(hintIndex, m.LogTerm)
	r.logger.Debug("rejecting append", "from", m.From, "index", m.Index, "log-term", m.LogTerm,
		"hint-index", hintIndex, "hint-term", hintTerm)
	r.send(wire.Message{To: m.From, Type: wire.MsgAppResp, Index: m.Index, Reject: true,
		RejectHint: hintIndex, LogTerm: hintTerm})
}

// handleHeartbeat advances the commit index to what the leader knows we
// hold, and answers with the heartbeat's context (read index rounds).
func (r *raft) handleHeartbeat(m wire.Message) {
	if m.Commit <= r.log.lastIndex() {
		r.log.commitTo(m.Commit)
	} else {
		r.logger.Debug("heartbeat commit beyond our log", "from", m.From, "commit", m.Commit,
			"last-index", r.log.lastIndex())
	}
	r.send(wire.Message{To: m.From, Type: wire.MsgHeartbeatResp, Context: m.Context, Index: m.Index})
}

// handleSnapshot installs the leader's snapshot if it is newer than our
// commit index, and answers with how far our log now reaches.
func (r *raft) handleSnapshot(m wire.Message) {
	if m.Snapshot == nil {
		r.logger.Debug("ignoring MsgSnap without snapshot", "from", m.From)
		return
	}
	s := *m.Snapshot
	s.Config = s.Config.Clone()
	if r.restore(s) {
		r.logger.Info("installing snapshot", "from", m.From, "index", s.Index, "term", s.Term)
		r.send(wire.Message{To: m.From, Type: wire.MsgAppResp, Index: r.log.lastIndex()})
		return
	}
	r.logger.Info("ignoring snapshot", "from", m.From, "index", s.Index, "term", s.Term, "commit", r.log.committed)
	r.send(wire.Message{To: m.From, Type: wire.MsgAppResp, Index: r.log.committed})
}

// restore makes snapshot s the base of our log. It refuses a snapshot at
// or below our commit index: never go back behind what may be applied.
// The snapshot's configuration need not include us: a server added after
// the snapshot was taken learns of its membership from the entries that
// follow it.
func (r *raft) restore(s wire.SnapshotMeta) bool {
	if s.Index <= r.log.committed {
		return false
	}
	if r.log.matchTerm(s.Index, s.Term) {
		// We already have the snapshot's last entry, hence everything
		// before it: just commit up to it.
		r.log.commitTo(s.Index)
		return false
	}
	r.log.restore(s)
	r.resetConfigs(confEntry{index: s.Index, cfg: s.Config})
	return true
}
