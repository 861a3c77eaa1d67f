package core

import (
	"github.com/mandate-raft/mandate/raft/internal/tracker"
	"github.com/mandate-raft/mandate/wire"
)

// transferTarget names the node a MsgTransferLeader hands leadership to:
// Context when set (the form that travels between nodes, whose From is the
// sender as the transport authenticates it), else From (the locally
// stepped form RawNode.TransferLeader builds).
func transferTarget(m wire.Message) wire.NodeID {
	if len(m.Context) > 0 {
		return wire.NodeID(m.Context)
	}
	return m.From
}

// forwardTransferLeader sends a transfer request on to the leader. On the
// wire From must be this node: a transport refuses a message whose sender
// is not the peer it authenticated, so the target goes in Context.
func (r *raft) forwardTransferLeader(m wire.Message) {
	r.send(wire.Message{
		Type:    wire.MsgTransferLeader,
		To:      r.lead,
		From:    r.id,
		Context: []byte(transferTarget(m)),
	})
}

// handleTransferLeader starts handing leadership to the message's target
// (transferTarget): proposals stop, the target is brought up to date, then
// told to campaign at once. The transfer aborts after an election timeout.
func (r *raft) handleTransferLeader(m wire.Message) {
	to := transferTarget(m)
	pr := r.trk.Progress[to]
	if pr == nil || pr.IsLearner {
		r.logger.Debug("ignoring transfer to a non-voter", "transferee", to)
		return
	}
	if r.leadTransferee != None {
		if r.leadTransferee == to {
			return
		}
		r.abortLeaderTransfer()
	}
	if to == r.id {
		return
	}
	r.logger.Info("transferring leadership", "term", r.term, "transferee", to)
	// The transfer has one election timeout to finish.
	r.electionElapsed = 0
	r.leadTransferee = to
	if pr.Match == r.log.lastIndex() {
		r.sendTimeoutNow(to)
		return
	}
	if pr.State == tracker.StateProbe {
		// Probe now rather than at the next heartbeat.
		pr.ProbeSent = false
	}
	r.maybeSendAppend(to, true)
}

func (r *raft) sendTimeoutNow(to wire.NodeID) {
	r.leaseRevoked = true
	r.send(wire.Message{To: to, Type: wire.MsgTimeoutNow})
}

func (r *raft) abortLeaderTransfer() { r.leadTransferee = None }
