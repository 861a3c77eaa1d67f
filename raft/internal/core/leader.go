package core

import (
	"github.com/mandate-raft/mandate/raft/internal/tracker"
	"github.com/mandate-raft/mandate/wire"
)

// stepLeader handles messages for the leader: local requests first, then
// answers from followers.
func stepLeader(r *raft, m wire.Message) error {
	switch m.Type {
	case wire.MsgBeat:
		r.bcastHeartbeat()
		return nil
	case wire.MsgCheckQuorum:
		r.handleCheckQuorum()
		return nil
	case wire.MsgProp:
		return r.handlePropose(m)
	case wire.MsgReadIndex:
		r.handleReadIndex(m)
		return nil
	case wire.MsgTransferLeader:
		r.handleTransferLeader(m)
		return nil
	}
	pr := r.trk.Progress[m.From]
	if pr == nil || m.From == r.id {
		r.logger.Debug("leader ignoring message from non-member", "type", m.Type, "from", m.From)
		return nil
	}
	switch m.Type {
	case wire.MsgAppResp:
		r.handleAppendResp(m, pr)
	case wire.MsgHeartbeatResp:
		r.handleHeartbeatResp(m, pr)
	case wire.MsgSnapStatus:
		r.handleSnapStatus(m, pr)
	case wire.MsgUnreachable:
		// Appends in flight to it are probably lost: probe again.
		if pr.State == tracker.StateReplicate {
			pr.BecomeProbe()
		}
	default:
		r.logger.Debug("leader ignoring message", "type", m.Type, "from", m.From)
	}
	return nil
}

// handleCheckQuorum steps down when a quorum of voters has not been heard
// from within the last election timeout: a leader cut off from the
// majority must stop acting as one (and stop serving lease reads).
func (r *raft) handleCheckQuorum() {
	if !r.trk.QuorumActive(r.id) {
		r.logger.Warn("stepping down: quorum not active", "term", r.term)
		r.becomeFollower(r.term, None)
		return
	}
	r.trk.ResetRecentActive(r.id)
}

func (r *raft) handlePropose(m wire.Message) error {
	if len(m.Entries) == 0 {
		r.logger.Debug("dropping empty proposal", "from", m.From)
		return ErrProposalDropped
	}
	if !r.trk.IsMember(r.id) {
		// Removed, and handing over as soon as that commits.
		r.logger.Debug("dropping proposal: leader is not a member", "term", r.term)
		return ErrProposalDropped
	}
	if r.leadTransferee != None {
		r.logger.Debug("dropping proposal: leadership transfer in progress",
			"term", r.term, "transferee", r.leadTransferee)
		return ErrProposalDropped
	}
	for i := range m.Entries {
		if m.Entries[i].Type != wire.EntryNormal {
			// Configuration changes go through ProposeConfChange, which
			// enforces one change at a time.
			r.logger.Debug("dropping proposal with a non-normal entry", "type", m.Entries[i].Type)
			return ErrProposalDropped
		}
	}
	r.appendEntries(m.Entries...)
	r.bcastAppend()
	return nil
}

// appendEntries appends ents to the leader's log in its term. They become
// the leader's own acknowledgement only once reported durable.
func (r *raft) appendEntries(ents ...wire.Entry) {
	first := r.log.lastIndex() + 1
	u := &r.log.unstable
	if first != u.offset+uint64(len(u.entries)) {
		panic("core: leader's unstable log does not end at its last index")
	}
	start := len(u.entries)
	// Copy, then stamp our copies: the caller's slice is left untouched.
	u.entries = append(u.entries, ents...)
	for i := start; i < len(u.entries); i++ {
		u.entries[i].Index = first + uint64(i-start)
		u.entries[i].Term = r.term
	}
	r.onEntriesWritten(u.entries[start:])
}

// committedEntryInCurrentTerm reports whether this leader has committed an
// entry of its own term, which is when its commit index is known current.
func (r *raft) committedEntryInCurrentTerm() bool {
	return r.log.termOrZero(r.log.committed) == r.term
}

// maybeCommit advances the commit index to the highest index durable on a
// quorum of voters, if that entry is of the current term (Raft §5.4.2:
// counting replicas never commits an entry of an earlier term directly).
func (r *raft) maybeCommit() bool {
	mci := r.trk.Committed()
	if mci <= r.log.committed || r.log.termOrZero(mci) != r.term {
		return false
	}
	r.log.commitTo(mci)
	r.onLeaderCommit()
	return r.state == StateLeader
}

// onLeaderCommit runs what waits for the leader's commit index to move.
func (r *raft) onLeaderCommit() {
	r.notifyLeaving()
	r.pruneConfigs()
	r.releasePendingReadIndexMessages()
	r.maybeStepDownAfterRemoval()
}

// notifyLeaving sends servers whose removal just committed one last
// append (or heartbeat) carrying the commit index before they are
// forgotten, so that they learn it and stop counting themselves as
// possibly needed for elections.
func (r *raft) notifyLeaving() {
	if r.configPending() {
		return
	}
	for _, id := range r.trk.IDs {
		if _, ok := r.trk.Config.Server(id); ok || id == r.id {
			continue
		}
		if !r.maybeSendAppend(id, true) {
			r.sendHeartbeat(id, nil)
		}
	}
}

// handleAppendResp processes a follower's answer to MsgApp or MsgSnap.
func (r *raft) handleAppendResp(m wire.Message, pr *tracker.Progress) {
	pr.RecentActive = true
	if m.Reject {
		r.handleAppendReject(m, pr)
		return
	}
	if m.Index > r.log.lastIndex() {
		r.logger.Debug("ignoring acknowledgement beyond our log", "from", m.From, "index", m.Index,
			"last-index", r.log.lastIndex())
		return
	}
	wasPaused := pr.IsPaused()
	if !pr.MaybeUpdate(m.Index) {
		return
	}
	switch {
	case pr.State == tracker.StateProbe:
		pr.BecomeReplicate()
	case pr.State == tracker.StateSnapshot && (pr.Match >= pr.PendingSnapshot || pr.Match+1 >= r.log.firstIndex()):
		// The snapshot (or something newer) is installed, or the follower
		// caught up far enough for our log to serve it: stream again.
		pr.BecomeProbe()
		pr.BecomeReplicate()
	case pr.State == tracker.StateReplicate:
		pr.Inflights.FreeLE(m.Index)
	}
	if r.maybeCommit() {
		r.bcastAppend()
	} else if wasPaused && r.state == StateLeader {
		// It was paused while the commit index moved: bring it up to date
		// even with no entries to send.
		r.maybeSendAppend(m.From, true)
	}
	if r.state != StateLeader {
		return
	}
	// Fill the window: the pipeline keeps appends flowing without waiting
	// for each answer.
	for r.maybeSendAppend(m.From, false) {
	}
	if m.From == r.leadTransferee && pr.Match == r.log.lastIndex() {
		r.logger.Info("transferee caught up; sending MsgTimeoutNow", "transferee", m.From)
		r.sendTimeoutNow(m.From)
	}
}

// handleAppendReject backs off after a follower refused an append: probe
// again below the follower's hint, skipping a whole term where possible.
func (r *raft) handleAppendReject(m wire.Message, pr *tracker.Progress) {
	r.logger.Debug("append rejected", "from", m.From, "index", m.Index,
		"hint-index", m.RejectHint, "hint-term", m.LogTerm, "progress", pr.String())
	if m.Index < pr.Match {
		// Stale: an answer to an append sent before the follower caught
		// up. Backing off below Match cannot help.
		r.logger.Debug("ignoring rejection below match", "from", m.From, "index", m.Index, "match", pr.Match)
		return
	}
	if m.RejectHint < pr.Match {
		// The follower refuses an append at or above what it acknowledged
		// (a probe is an append just after Match, so at Match exactly),
		// and its log ends (or diverges) below that. By Log Matching a
		// correct follower cannot do that: it lost entries it had
		// acknowledged as durable (a wiped or restored disk). Waiting for
		// the entries it is recorded to hold would wait forever (a probe
		// would ask at the same index for ever); forget them and repair it
		// from its hint, by snapshot if we compacted that far. (A
		// duplicated old rejection can land here too; it costs one probe.)
		r.logger.Warn("follower lost entries it had acknowledged; replicating to it again",
			"from", m.From, "match", pr.Match, "follower-last-index", m.RejectHint)
		pr.ForgetMatch()
	}
	next := m.RejectHint
	if m.LogTerm > 0 {
		// The follower's entry at RejectHint has term LogTerm. Every entry
		// of ours above the largest index whose term is <= LogTerm cannot
		// match, so probe there.
		next, _ = r.log.findConflictByTerm(min(m.RejectHint, r.log.lastIndex()), m.LogTerm)
	}
	if pr.MaybeDecrTo(m.Index, next) {
		if pr.State == tracker.StateReplicate {
			pr.BecomeProbe()
		}
		r.maybeSendAppend(m.From, false)
	}
}

func (r *raft) handleHeartbeatResp(m wire.Message, pr *tracker.Progress) {
	pr.RecentActive = true
	if m.Index <= r.ticks+1 {
		pr.LeaseTick = max(pr.LeaseTick, m.Index)
	}
	pr.ProbeSent = false
	if pr.State == tracker.StateReplicate && pr.Inflights.Full() {
		// The follower is alive but the window is full: its contents may
		// have been lost. Free a slot so an append goes out; a gap makes
		// the follower reject it, and we probe from there.
		pr.Inflights.FreeFirstOne()
	}
	if pr.Match < r.log.lastIndex() {
		// Even with nothing new to send, an (empty) append at Next-1
		// makes a follower that lost appends reject, so we learn where
		// to resume.
		r.maybeSendAppend(m.From, true)
	}
	if len(m.Context) > 0 {
		r.handleReadIndexAck(m)
	}
}

func (r *raft) handleSnapStatus(m wire.Message, pr *tracker.Progress) {
	if pr.State != tracker.StateSnapshot {
		return
	}
	if m.Reject {
		r.logger.Warn("snapshot send failed", "to", m.From, "index", pr.PendingSnapshot)
		pr.PendingSnapshot = 0
	} else {
		r.logger.Debug("snapshot sent", "to", m.From, "index", pr.PendingSnapshot)
	}
	pr.BecomeProbe()
	// Wait for the follower's answer (or the next heartbeat) before
	// probing, instead of racing the snapshot install.
	pr.ProbeSent = true
}

// maybeSendAppend sends to the follower the entries it lacks (or, when it
// needs entries compacted away, a snapshot). With sendIfEmpty it also sends
// an empty append, which carries the commit index. It reports whether a
// message was sent.
func (r *raft) maybeSendAppend(to wire.NodeID, sendIfEmpty bool) bool {
	pr := r.trk.Progress[to]
	if pr == nil || pr.IsPaused() {
		return false
	}
	prevIndex := pr.Next - 1
	prevTerm, errt := r.log.term(prevIndex)
	var ents []wire.Entry
	var erre error
	if last := r.log.lastIndex(); errt == nil && pr.Next <= last {
		ents, erre = r.log.slice(pr.Next, last+1, r.cfg.MaxSizePerMsg)
	}
	if errt != nil || erre != nil {
		return r.maybeSendSnapshot(to, pr)
	}
	if len(ents) == 0 && !sendIfEmpty {
		return false
	}
	r.send(wire.Message{To: to, Type: wire.MsgApp, Index: prevIndex, LogTerm: prevTerm,
		Entries: ents, Commit: r.log.committed})
	pr.SentEntries(len(ents), prevIndex+uint64(len(ents)))
	return true
}

// maybeSendSnapshot sends the newest snapshot's metadata to a follower
// that needs entries we no longer have; the runtime streams the data.
func (r *raft) maybeSendSnapshot(to wire.NodeID, pr *tracker.Progress) bool {
	if !pr.RecentActive {
		r.logger.Debug("not sending snapshot to an inactive follower", "to", to)
		return false
	}
	s := r.cfg.Storage.Snapshot()
	if s.IsEmpty() {
		r.logger.Error("follower needs a snapshot but none is available", "to", to, "next", pr.Next)
		return false
	}
	s.Config = s.Config.Clone()
	r.logger.Info("sending snapshot", "to", to, "index", s.Index, "term", s.Term, "progress", pr.String())
	pr.BecomeSnapshot(s.Index)
	r.send(wire.Message{To: to, Type: wire.MsgSnap, Snapshot: &s})
	return true
}

// bcastAppend sends every follower what it lacks, or an empty append with
// the commit index.
func (r *raft) bcastAppend() {
	for _, id := range r.trk.IDs {
		if id != r.id {
			r.maybeSendAppend(id, true)
		}
	}
}

// bcastHeartbeat sends heartbeats carrying the newest pending read
// request's context, so one round confirms every read queued so far.
func (r *raft) bcastHeartbeat() {
	ctx := r.readOnly.lastPendingRequestCtx()
	for _, id := range r.trk.IDs {
		if id != r.id {
			r.sendHeartbeat(id, ctx)
		}
	}
}

func (r *raft) sendHeartbeat(to wire.NodeID, ctx []byte) {
	// Never tell a follower to commit beyond what it is known to hold: its
	// log past Match may still diverge from ours.
	commit := min(r.trk.Progress[to].Match, r.log.committed)
	// Index carries our tick (plus one, so it is never 0), echoed in the
	// answer, so the lease is measured from when the heartbeat left, never
	// from when the answer came back.
	r.send(wire.Message{To: to, Type: wire.MsgHeartbeat, Commit: commit, Context: ctx, Index: r.ticks + 1})
}
