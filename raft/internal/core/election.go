package core

import (
	"bytes"

	"github.com/mandate-raft/mandate/raft/internal/quorum"
	"github.com/mandate-raft/mandate/wire"
)

// transferContext marks the vote requests of a campaign a leader asked for
// (MsgTimeoutNow): they bypass the followers' leader lease.
var transferContext = []byte("mandate-transfer")

func isTransferCampaign(ctx []byte) bool { return bytes.Equal(ctx, transferContext) }

// hup starts an election if this node may: it is a voter in its newest
// configuration and not already the leader.
func (r *raft) hup(transfer bool) {
	if r.state == StateLeader {
		r.logger.Debug("ignoring campaign request: already leader", "term", r.term)
		return
	}
	if !r.promotable() {
		r.logger.Debug("ignoring campaign request: not a voter", "term", r.term)
		return
	}
	if r.cfg.PreVote && !transfer {
		r.campaign(true, false)
		return
	}
	r.campaign(false, transfer)
}

// campaign runs a pre-election (pre) or an election. A transfer election
// marks its requests so that followers in a leader lease still answer.
func (r *raft) campaign(pre, transfer bool) {
	var term uint64
	var typ wire.MessageType
	if pre {
		r.becomePreCandidate()
		typ = wire.MsgPreVote
		// A pre-vote asks about the term we would campaign in.
		term = r.term + 1
	} else {
		r.becomeCandidate()
		typ = wire.MsgVote
		term = r.term
	}
	if _, _, res := r.poll(r.id, typ, true); res == quorum.VoteWon {
		// A single-voter configuration wins at once.
		r.winElection(pre)
		return
	}
	var ctx []byte
	if transfer {
		ctx = transferContext
	}
	last, lastTerm := r.log.lastIndex(), r.log.lastTerm()
	for _, id := range r.trk.Voters {
		if id == r.id {
			continue
		}
		r.logger.Debug("requesting vote", "to", id, "type", typ, "term", term,
			"last-index", last, "last-term", lastTerm)
		// MsgVote leaves only after the new term and self-vote are durable
		// (send routes it to DurableMessages).
		r.send(wire.Message{To: id, Term: term, Type: typ, Index: last, LogTerm: lastTerm, Context: ctx})
	}
}

func (r *raft) winElection(pre bool) {
	if pre {
		r.campaign(false, false)
		return
	}
	r.becomeLeader()
	r.bcastAppend()
}

// poll records id's answer to our (pre-)vote request and tallies.
func (r *raft) poll(id wire.NodeID, typ wire.MessageType, granted bool) (int, int, quorum.VoteResult) {
	if granted {
		r.logger.Debug("vote granted", "from", id, "type", typ, "term", r.term)
	} else {
		r.logger.Debug("vote rejected", "from", id, "type", typ, "term", r.term)
	}
	r.trk.RecordVote(id, granted)
	return r.trk.TallyVotes()
}

// handleVoteRequest answers MsgVote and MsgPreVote (terms are already
// reconciled by Step).
func (r *raft) handleVoteRequest(m wire.Message) {
	if m.Term == 0 {
		r.logger.Debug("ignoring vote request without a term", "from", m.From)
		return
	}
	// We may vote for m.From if we already did in this term, or if we have
	// voted for nobody and follow no leader in this term; a pre-vote for a
	// future term is always open.
	canVote := r.vote == m.From ||
		(r.vote == None && r.lead == None) ||
		(m.Type == wire.MsgPreVote && m.Term > r.term)
	resp := wire.MsgVoteResp
	if m.Type == wire.MsgPreVote {
		resp = wire.MsgPreVoteResp
	}
	if canVote && r.log.isUpToDate(m.Index, m.LogTerm) {
		r.logger.Debug("granting vote", "to", m.From, "type", m.Type, "msg-term", m.Term, "term", r.term)
		// A granted answer carries the requested term, so that the
		// pre-candidate does not discard it as stale.
		r.send(wire.Message{To: m.From, Term: m.Term, Type: resp})
		if m.Type == wire.MsgVote {
			// Only a real vote changes state; the answer is durable-only,
			// so the vote is on disk before the candidate hears of it.
			r.electionElapsed = 0
			r.vote = m.From
		}
		return
	}
	r.logger.Debug("rejecting vote", "to", m.From, "type", m.Type, "msg-term", m.Term, "term", r.term,
		"vote", r.vote, "last-index", r.log.lastIndex(), "last-term", r.log.lastTerm())
	r.send(wire.Message{To: m.From, Term: r.term, Type: resp, Reject: true})
}

// stepCandidate handles messages for candidates and pre-candidates.
func stepCandidate(r *raft, m wire.Message) error {
	myResp := wire.MsgVoteResp
	if r.state == StatePreCandidate {
		myResp = wire.MsgPreVoteResp
	}
	switch m.Type {
	case wire.MsgProp:
		r.logger.Debug("dropping proposal: no leader", "term", r.term)
		return ErrProposalDropped
	case wire.MsgApp:
		r.becomeFollower(m.Term, m.From)
		r.handleAppendEntries(m)
	case wire.MsgHeartbeat:
		r.becomeFollower(m.Term, m.From)
		r.handleHeartbeat(m)
	case wire.MsgSnap:
		r.becomeFollower(m.Term, m.From)
		r.handleSnapshot(m)
	case myResp:
		_, _, res := r.poll(m.From, m.Type, !m.Reject)
		switch res {
		case quorum.VoteWon:
			r.winElection(r.state == StatePreCandidate)
		case quorum.VoteLost:
			// Stay in this term; a pre-candidate never left it.
			r.becomeFollower(r.term, None)
		}
	case wire.MsgTimeoutNow:
		r.logger.Debug("ignoring MsgTimeoutNow while campaigning", "from", m.From, "term", r.term)
	default:
		r.logger.Debug("candidate ignoring message", "type", m.Type, "from", m.From)
	}
	return nil
}
