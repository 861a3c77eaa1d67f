package sim

import (
	"fmt"
	"strings"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// node is one simulated server: a RawNode, its durable state, its queue of
// writes not yet durable, and the simulator's shadow of what it holds.
type node struct {
	id  wire.NodeID
	idx int

	alive bool
	// inc counts restarts; events made for an older incarnation are void.
	inc  uint64
	rn   *core.RawNode
	tick Time // this node's tick period: clocks run at slightly different rates

	d       durable     // survives crashes
	pending []storageOp // handed out by Ready, not yet durable; lost on crash
	// storageBusy is set while an evStorage event is queued for this node.
	storageBusy bool

	// The simulator's view of the core, updated from every Ready.
	held   simLog // durable log plus pending writes, as the node holds it
	fsm    fsmState
	role   core.StateType
	lead   wire.NodeID
	term   uint64
	vote   wire.NodeID
	commit uint64

	// proposals are the IDs proposed through this incarnation whose
	// callers still wait; a crash fails them.
	proposals map[uint64]bool
}

type opKind uint8

const (
	opSnapshot opKind = iota
	opEntries
	opHardState
	opDone // the Ready's writes are all durable: acknowledge
)

// storageOp is one write of a Ready, made durable as one step. A Ready
// becomes up to four ops, so a crash can fall between any two of them.
type storageOp struct {
	kind opKind
	snap wire.SnapshotMeta
	ents []wire.Entry
	hs   wire.HardState
	// For opDone: what to send and step once everything before is durable.
	msgs []wire.Message
	acks []wire.Message
}

func (n *node) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", n.id)
	if !n.alive {
		b.WriteString("DOWN ")
	}
	fmt.Fprintf(&b, "%s term=%d vote=%q lead=%q commit=%d applied=%d log=[%d..%d] lastTerm=%d",
		n.role, n.term, n.vote, n.lead, n.commit, n.fsm.applied, n.held.base, n.held.lastIndex(), n.held.lastTerm())
	fmt.Fprintf(&b, " durable{hs=%+v log=[%d..%d] snap=%d} pending-ops=%d",
		n.d.hs, n.d.log.base, n.d.log.lastIndex(), n.d.snap.Index, len(n.pending))
	if n.alive {
		st := n.rn.Status()
		fmt.Fprintf(&b, " config@%d{voters=%v learners=%v}", st.ConfigIndex, st.Config.Voters(), st.Config.Learners())
	}
	return b.String()
}

// logSummary lists the (index, term) runs of the node's held log, for
// failure reports.
func (n *node) logSummary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s log: base=(%d,t%d)", n.id, n.held.base, n.held.baseTerm)
	for i := 0; i < len(n.held.ents); {
		j := i
		for j+1 < len(n.held.ents) && n.held.ents[j+1].Term == n.held.ents[i].Term {
			j++
		}
		fmt.Fprintf(&b, " [%d..%d]t%d", n.held.ents[i].Index, n.held.ents[j].Index, n.held.ents[i].Term)
		i = j + 1
	}
	return b.String()
}

// stepNode runs one input on a live node and then drains its Ready
// batches. A step that the core refuses is not an error of the run:
// peers send stale and odd messages all the time.
func (s *Sim) stepNode(n *node, what string, f func() error) {
	if !n.alive || s.violation != nil {
		return
	}
	s.stats.Steps++
	s.traceInt(uint64(n.idx))
	if err := f(); err != nil {
		s.stats.Refused++
		s.traceInt(0xe77)
	}
	s.drain(n)
	if s.cfg.Trace != nil && what != "deliver" && what != "tick" && what != "storage-ack" {
		s.logf("%s on %s", what, n.id)
	}
}

// maxReadysPerStep bounds how many Readys one input may produce: a core
// that never runs out of Ready without new input is livelocked.
const maxReadysPerStep = 1000

// drain handles every Ready the node has.
func (s *Sim) drain(n *node) {
	for k := 0; n.alive && s.violation == nil && n.rn.HasReady(); k++ {
		if k == maxReadysPerStep {
			s.fail("bounded work", fmt.Sprintf("%s produced %d Readys for one input", n.id, k), n)
			return
		}
		rd := n.rn.Ready()
		s.handleReady(n, &rd)
	}
}

// handleReady follows the Ready protocol of package core, checking the
// safety properties on the way.
func (s *Sim) handleReady(n *node, rd *core.Ready) {
	wasLeader, prevTerm := n.role == core.StateLeader, n.term
	s.traceReady(n, rd)
	if s.cfg.Trace != nil {
		s.logReady(n, rd)
	}
	if rd.SoftState != nil {
		n.role, n.lead = rd.SoftState.State, rd.SoftState.Lead
	}
	if !rd.HardState.IsEmpty() {
		s.checkHardState(n, rd.HardState)
		if s.violation != nil {
			return
		}
	}
	if n.role == core.StateLeader && (!wasLeader || prevTerm != n.term) {
		s.checkNewLeader(n)
	} else if wasLeader && n.role == core.StateLeader && prevTerm != n.term {
		s.checkNewLeader(n)
	}
	if rd.Snapshot != nil {
		s.installSnapshot(n, *rd.Snapshot)
	}
	if len(rd.Entries) > 0 {
		removed, err := n.held.appendEntries(rd.Entries)
		if err != nil {
			s.fail("Ready contract", fmt.Sprintf("%s: Ready.Entries: %v", n.id, err), n)
			return
		}
		if removed > 0 && wasLeader && n.role == core.StateLeader && prevTerm == n.term {
			s.fail("Leader Append-Only", fmt.Sprintf("%s, leader of term %d, removed %d entries from its log (Ready.Entries from %d)",
				n.id, n.term, removed, rd.Entries[0].Index), n)
			return
		}
		s.checkLogMatching(n, rd.Entries)
	}
	if s.violation == nil && !rd.HardState.IsEmpty() {
		s.checkCommit(n, rd.HardState.Commit)
	}
	for i := range rd.CommittedEntries {
		if s.violation != nil {
			return
		}
		s.apply(n, &rd.CommittedEntries[i])
	}
	if s.violation != nil {
		return
	}
	for _, m := range rd.Messages {
		s.send(n, m)
	}
	s.checkReadStates(n, rd.ReadStates)
	s.enqueueWrites(n, rd)
}

// enqueueWrites turns the Ready's writes and acknowledgements into
// storage ops, each made durable later in order.
func (s *Sim) enqueueWrites(n *node, rd *core.Ready) {
	var acks []wire.Message
	if rd.Snapshot != nil {
		n.pending = append(n.pending, storageOp{kind: opSnapshot, snap: *rd.Snapshot})
		snap := *rd.Snapshot
		acks = append(acks, wire.Message{Type: wire.MsgStorageSnapResp, To: n.id, From: n.id, Index: snap.Index, LogTerm: snap.Term, Snapshot: &snap})
	}
	if len(rd.Entries) > 0 {
		n.pending = append(n.pending, storageOp{kind: opEntries, ents: rd.Entries})
		last := rd.Entries[len(rd.Entries)-1]
		acks = append(acks, wire.Message{Type: wire.MsgStorageAppendResp, To: n.id, From: n.id, Index: last.Index, LogTerm: last.Term})
	}
	if !rd.HardState.IsEmpty() {
		n.pending = append(n.pending, storageOp{kind: opHardState, hs: rd.HardState})
	}
	if len(acks) > 0 || len(rd.DurableMessages) > 0 {
		n.pending = append(n.pending, storageOp{kind: opDone, msgs: rd.DurableMessages, acks: acks})
	}
	s.kickStorage(n)
}

// kickStorage schedules the node's next pending write.
func (s *Sim) kickStorage(n *node) {
	if n.storageBusy || len(n.pending) == 0 {
		return
	}
	n.storageBusy = true
	d := Time(1 + s.rng.IntN(int(s.diskMax)))
	s.schedule(&event{at: s.now + d, kind: evStorage, node: n.idx, inc: n.inc})
}

// storageStep makes the node's oldest pending write durable.
func (s *Sim) storageStep(n *node) {
	n.storageBusy = false
	op := n.pending[0]
	n.pending = n.pending[1:]
	s.stats.Steps++
	s.traceInt(uint64(op.kind) + 0x5700)
	switch op.kind {
	case opSnapshot:
		chain, _ := s.chk.logChain(op.snap.Index, op.snap.Term)
		n.d.log.installSnapshot(op.snap.Index, op.snap.Term, chain)
		n.d.snap = op.snap
	case opEntries:
		if _, err := n.d.log.appendEntries(op.ents); err != nil {
			s.fail("Ready contract", fmt.Sprintf("%s: durable append: %v", n.id, err), n)
			return
		}
	case opHardState:
		if op.hs.Term < n.d.hs.Term || op.hs.Commit < n.d.hs.Commit {
			s.fail("durable hard state regressed", fmt.Sprintf("%s: durable %+v overwritten by %+v", n.id, n.d.hs, op.hs), n)
			return
		}
		n.d.hs = op.hs
	case opDone:
		for _, m := range op.msgs {
			s.send(n, m)
		}
		for _, m := range op.acks {
			s.stepNode(n, "storage-ack", func() error { return n.rn.Step(m) })
		}
		s.stats.Steps-- // the acks counted themselves
	}
	s.kickStorage(n)
}

// crash stops a node: everything not yet durable is gone.
func (s *Sim) crash(n *node) {
	if !n.alive {
		return
	}
	s.traceInt(0xc4a5 + uint64(n.idx))
	s.logf("crash %s", n.id)
	s.stats.Crashes++
	n.alive = false
	n.inc++
	n.rn = nil
	n.pending = nil
	n.storageBusy = false
	n.proposals = nil
	n.role, n.lead = core.StateFollower, wire.None
}

// restart builds a new RawNode from the node's durable state alone, with
// its FSM restored from the durable snapshot, and a fresh seed drawn from
// the run's source.
func (s *Sim) restart(n *node) {
	if n.alive {
		return
	}
	s.traceInt(0x4e57a47 + uint64(n.idx))
	s.logf("restart %s from %+v log=[%d..%d]", n.id, n.d.hs, n.d.log.base, n.d.log.lastIndex())
	n.inc++
	n.held = n.d.log.clone()
	n.fsm = fsmState{}
	if !n.d.snap.IsEmpty() {
		st, ok := s.snaps[n.d.snap.ID]
		if !ok {
			s.fail("snapshot store", fmt.Sprintf("%s: durable snapshot %q has no data", n.id, n.d.snap.ID), n)
			return
		}
		n.fsm = st
	}
	n.term, n.vote, n.commit = n.d.hs.Term, n.d.hs.Vote, n.d.hs.Commit
	n.role, n.lead = core.StateFollower, wire.None
	n.proposals = map[uint64]bool{}
	cfg := s.coreConfig(n)
	rn, err := core.NewRawNode(cfg)
	if err != nil {
		s.fail("restart", fmt.Sprintf("%s: NewRawNode from durable state: %v", n.id, err), n)
		return
	}
	n.rn = rn
	n.alive = true
	s.scheduleTick(n, Time(1+s.rng.IntN(int(n.tick))))
	s.drain(n)
}

func (s *Sim) coreConfig(n *node) core.Config {
	return core.Config{
		ID:              n.id,
		ElectionTick:    s.cfg.ElectionTick,
		HeartbeatTick:   s.cfg.HeartbeatTick,
		Storage:         memStorage{d: &n.d},
		HardState:       n.d.hs,
		Applied:         n.d.snap.Index,
		MaxSizePerMsg:   s.cfg.MaxSizePerMsg,
		MaxInflightMsgs: s.cfg.MaxInflightMsgs,
		CheckQuorum:     s.cfg.CheckQuorum,
		PreVote:         s.cfg.PreVote,
		Seed:            s.rng.Int64(),
	}
}

func (s *Sim) scheduleTick(n *node, d Time) {
	s.schedule(&event{at: s.now + d, kind: evTick, node: n.idx, inc: n.inc})
}

// compact snapshots the node's FSM at its applied index and compacts its
// log there, as the runtime does once enough entries were applied. The
// snapshot is durable at once.
func (s *Sim) compact(n *node) {
	if !n.alive || n.fsm.applied <= n.d.log.base {
		return
	}
	idx := n.fsm.applied
	// The runtime snapshots only state that is durable: an applied index
	// reached through a snapshot still pending install is not yet.
	term, ok := n.d.log.term(idx)
	if ch, _ := n.d.log.chainAt(idx); !ok || ch != n.fsm.digest {
		return
	}
	s.traceInt(0x5a4 + idx)
	s.stats.Snapshots++
	meta := wire.SnapshotMeta{
		ID:     fmt.Sprintf("%s-%d-%d", n.id, idx, term),
		Index:  idx,
		Term:   term,
		Config: n.fsm.config.Clone(),
	}
	s.snaps[meta.ID] = n.fsm
	n.d.snap = meta
	n.d.log.compact(idx)
	n.held.compact(idx)
}

func (s *Sim) logReady(n *node, rd *core.Ready) {
	var b strings.Builder
	fmt.Fprintf(&b, "ready %s:", n.id)
	if rd.SoftState != nil {
		fmt.Fprintf(&b, " soft=%s/lead=%q", rd.SoftState.State, rd.SoftState.Lead)
	}
	if !rd.HardState.IsEmpty() {
		fmt.Fprintf(&b, " hs=%+v", rd.HardState)
	}
	if rd.Snapshot != nil {
		fmt.Fprintf(&b, " snap=(%d,t%d)", rd.Snapshot.Index, rd.Snapshot.Term)
	}
	if len(rd.Entries) > 0 {
		fmt.Fprintf(&b, " ents=[%d..%d]t%d", rd.Entries[0].Index, rd.Entries[len(rd.Entries)-1].Index, rd.Entries[len(rd.Entries)-1].Term)
	}
	if len(rd.CommittedEntries) > 0 {
		fmt.Fprintf(&b, " apply=[%d..%d]", rd.CommittedEntries[0].Index, rd.CommittedEntries[len(rd.CommittedEntries)-1].Index)
	}
	fmt.Fprintf(&b, " msgs=%d durable-msgs=%d", len(rd.Messages), len(rd.DurableMessages))
	s.logf("%s", b.String())
}
