package core

import "github.com/mandate-raft/mandate/wire"

// tickElection is the follower's and candidate's clock.
func (r *raft) tickElection() {
	r.electionElapsed++
	if r.promotable() && r.electionElapsed >= r.randomizedElectionTimeout {
		r.electionElapsed = 0
		if err := r.Step(wire.Message{From: r.id, Type: wire.MsgHup}); err != nil {
			r.logger.Debug("campaign failed", "error", err)
		}
	}
}

// tickHeartbeat is the leader's clock.
func (r *raft) tickHeartbeat() {
	r.heartbeatElapsed++
	r.electionElapsed++
	if r.electionElapsed >= r.cfg.ElectionTick {
		r.electionElapsed = 0
		if r.cfg.CheckQuorum {
			_ = r.Step(wire.Message{From: r.id, Type: wire.MsgCheckQuorum})
		}
		if r.state == StateLeader && r.leadTransferee != None {
			r.logger.Info("leadership transfer timed out", "transferee", r.leadTransferee)
			r.abortLeaderTransfer()
		}
	}
	if r.state != StateLeader {
		return
	}
	if r.diskStalled() {
		r.logger.Warn("stepping down: own log writes are not becoming durable",
			"term", r.term, "oldest-pending-index", r.pendingWrites[0].index,
			"stalled-ticks", r.ticks-r.pendingWrites[0].tick)
		r.becomeFollower(r.term, None)
		return
	}
	if r.heartbeatElapsed >= r.cfg.HeartbeatTick {
		r.heartbeatElapsed = 0
		_ = r.Step(wire.Message{From: r.id, Type: wire.MsgBeat})
	}
}

// startupLease reports whether this node, configured for lease reads,
// is still within an election timeout of its start. It then refuses votes
// as if it had just heard from a leader: it may have, before a restart,
// and a leader's lease counts on that.
func (r *raft) startupLease() bool {
	return r.cfg.ReadOnlyOption == ReadOnlyLeaseBased && r.ticks < uint64(r.cfg.ElectionTick)
}
