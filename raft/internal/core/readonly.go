package core

import (
	"github.com/mandate-raft/mandate/raft/internal/quorum"
	"github.com/mandate-raft/mandate/wire"
)

// readIndexStatus is one read request waiting for a quorum to confirm the
// leadership under which its index was taken.
type readIndexStatus struct {
	req   wire.Message
	index uint64
	acks  map[wire.NodeID]struct{}
}

// readOnly queues ReadOnlySafe requests in arrival order. A heartbeat
// round carries the newest request's context; a quorum acknowledging it
// confirms that request and every older one.
type readOnly struct {
	option  ReadOnlyOption
	pending map[string]*readIndexStatus
	queue   []string
}

func newReadOnly(o ReadOnlyOption) *readOnly {
	return &readOnly{option: o, pending: map[string]*readIndexStatus{}}
}

func (ro *readOnly) reset() {
	clear(ro.pending)
	ro.queue = ro.queue[:0]
}

// addRequest queues m taken at index. A context already pending is
// ignored: contexts must be unique among pending requests.
func (ro *readOnly) addRequest(index uint64, m wire.Message) bool {
	ctx := string(m.Context)
	if _, ok := ro.pending[ctx]; ok {
		return false
	}
	ro.pending[ctx] = &readIndexStatus{req: m, index: index, acks: map[wire.NodeID]struct{}{}}
	ro.queue = append(ro.queue, ctx)
	return true
}

// recvAck records id's acknowledgement of the heartbeat carrying ctx and
// returns the request's status (nil if unknown).
func (ro *readOnly) recvAck(id wire.NodeID, ctx []byte) *readIndexStatus {
	rs, ok := ro.pending[string(ctx)]
	if !ok {
		return nil
	}
	rs.acks[id] = struct{}{}
	return rs
}

// advance removes and returns the requests up to and including ctx.
func (ro *readOnly) advance(ctx []byte) []*readIndexStatus {
	i := -1
	for j, c := range ro.queue {
		if c == string(ctx) {
			i = j
			break
		}
	}
	if i < 0 {
		return nil
	}
	out := make([]*readIndexStatus, 0, i+1)
	for _, c := range ro.queue[:i+1] {
		out = append(out, ro.pending[c])
		delete(ro.pending, c)
	}
	ro.queue = append(ro.queue[:0], ro.queue[i+1:]...)
	return out
}

func (ro *readOnly) lastPendingRequestCtx() []byte {
	if len(ro.queue) == 0 {
		return nil
	}
	return []byte(ro.queue[len(ro.queue)-1])
}

// readIndexSafe in a MsgReadIndex's Index asks the leader to confirm the
// read with a heartbeat round even when it holds a valid lease.
const readIndexSafe = 1

// handleReadIndex serves a read index request on the leader.
func (r *raft) handleReadIndex(m wire.Message) {
	if !r.committedEntryInCurrentTerm() {
		// Our commit index may be behind entries committed by an earlier
		// leader: answering now could miss a write already acknowledged.
		r.pendingReadIndexMessages = append(r.pendingReadIndexMessages, m)
		return
	}
	r.sendReadIndexResponse(m)
}

func (r *raft) sendReadIndexResponse(m wire.Message) {
	if len(r.trk.Voters) == 1 && r.trk.IsVoter(r.id) {
		// No one else can be leader: answer now.
		r.respondReadIndex(m, r.log.committed)
		return
	}
	switch {
	case r.readOnly.option == ReadOnlyLeaseBased && m.Index != readIndexSafe && r.leaseValid():
		r.respondReadIndex(m, r.log.committed)
	default:
		// Safe reads, and lease reads without a valid lease, confirm
		// leadership with a round of heartbeats.
		if !r.readOnly.addRequest(r.log.committed, m) {
			r.logger.Debug("ignoring read request with a pending duplicate context", "from", m.From)
			return
		}
		r.readOnly.recvAck(r.id, m.Context)
		r.bcastHeartbeat()
	}
}

// leaseValid reports whether no other leader can have been elected now.
// A quorum of voters answered heartbeats sent at most leaseTicks ago; each
// of them refuses votes for ElectionTick of its own ticks after receiving
// one (check-quorum), and any election needs one of them. leaseTicks keeps
// a margin of two ticks for tick granularity and a tenth of the timeout
// for clock drift: the lease assumes the nodes' clocks run at rates within
// 10% of each other, and that the runtime ticks by elapsed monotonic time
// (a paused process catches up on its ticks before serving reads).
func (r *raft) leaseValid() bool {
	if r.leaseRevoked || r.leadTransferee != None {
		return false
	}
	leaseTicks := uint64(max(r.cfg.ElectionTick-r.cfg.ElectionTick/10-2, 0))
	r.leaseScratch = r.leaseScratch[:0]
	for _, id := range r.trk.Voters {
		if id == r.id {
			r.leaseScratch = append(r.leaseScratch, r.ticks+1)
			continue
		}
		if pr := r.trk.Progress[id]; pr.LeaseTick > 0 {
			r.leaseScratch = append(r.leaseScratch, pr.LeaseTick)
		} else {
			r.leaseScratch = append(r.leaseScratch, 0)
		}
	}
	// The tick a quorum has answered from (or later).
	since := quorum.CommittedIndex(r.leaseScratch)
	return since > 0 && r.ticks+1-since < leaseTicks
}

// handleReadIndexAck counts a heartbeat answer towards the read requests
// pending under its context.
func (r *raft) handleReadIndexAck(m wire.Message) {
	// Lease-based nodes queue requests here too: when the lease is not
	// valid, and for ReadIndexSafe.
	rs := r.readOnly.recvAck(m.From, m.Context)
	if rs == nil {
		return
	}
	n := 0
	for _, id := range r.trk.Voters {
		if _, ok := rs.acks[id]; ok {
			n++
		}
	}
	if n < quorum.Majority(len(r.trk.Voters)) {
		return
	}
	for _, s := range r.readOnly.advance(m.Context) {
		r.respondReadIndex(s.req, s.index)
	}
}

// respondReadIndex answers a confirmed read: locally as a ReadState, or to
// the follower that forwarded it.
func (r *raft) respondReadIndex(req wire.Message, index uint64) {
	if req.From == None || req.From == r.id {
		r.readStates = append(r.readStates, ReadState{Index: index, RequestCtx: req.Context})
		return
	}
	r.send(wire.Message{To: req.From, Type: wire.MsgReadIndexResp, Index: index, Context: req.Context})
}

// releasePendingReadIndexMessages serves the reads that waited for the
// leader's first commit in its term.
func (r *raft) releasePendingReadIndexMessages() {
	if len(r.pendingReadIndexMessages) == 0 || !r.committedEntryInCurrentTerm() {
		return
	}
	msgs := r.pendingReadIndexMessages
	r.pendingReadIndexMessages = nil
	for _, m := range msgs {
		r.sendReadIndexResponse(m)
	}
}
