package raft

import (
	"runtime"
	"slices"
	"time"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// loopState is the event loop's own bookkeeping.
type loopState struct {
	tick time.Duration
	// lastTick is when the core was last ticked (monotonic, from
	// Clock.Now), and maxCatchUp the most ticks one catch-up steps (enough
	// to expire any lease and start an election; more would only spin).
	lastTick   time.Time
	maxCatchUp int
	soft       core.SoftState
	// epoch counts changes of leader or role. A proposal handed to the core
	// in an epoch is failed as outcome-unknown once a later epoch's marker
	// has passed through the apply stage.
	epoch uint64
	batch []*proposal
	// lastBatch is how many proposals the last propose call took.
	lastBatch int
	// recent holds the forwarded proposals appended in this term.
	recent recentProposals
	// founding is a Bootstrap waiting for the other founding members
	// (founding.go); nil otherwise.
	founding *founding
	// tickDue is set by a ticker event: the core's regular tick is due
	// once the inputs already waiting have been stepped.
	tickDue bool
}

// maxEventsPerReady bounds how many inputs the loop steps before it
// collects a Ready, so that messages keep flowing under heavy load.
const maxEventsPerReady = 256

// run is the event loop: the only goroutine that touches the core.
func (n *Node) run() {
	defer n.wg.Done()
	defer close(n.loopDone)
	ticker := n.cfg.Clock.NewTicker(n.tickInterval())
	defer ticker.Stop()
	n.loop.lastTick = n.cfg.Clock.Now()
	for {
		select {
		case <-ticker.C():
			n.advanceClock(true)
			n.tickFounding()
			n.loop.tickDue = true
		case m := <-n.recvc:
			n.advanceClock(false)
			n.stepPeer(m)
		case p := <-n.proposals():
			n.advanceClock(false)
			if n.loop.lastBatch > 1 || len(n.propc) > 0 || n.lastWoken.Load() > 1 {
				// Proposers come in bursts (the apply stage wakes every
				// caller of a batch at once), and the first of a burst
				// wakes this loop before the rest have run. Under such
				// load, yielding lets them queue their proposals, so
				// that one append, one write and one message per
				// follower carry them all: fewer, larger batches nearly
				// halved the CPU per commit at 256 proposers. The apply
				// stage's last burst counts too: when the processors are
				// busy (fsyncs hold them), woken callers trickle in one
				// at a time, and judging by the last batch alone left
				// every one of them its own append, write and messages
				// (1.2 proposals per append at 16 proposers). A lone
				// proposer (a last batch of one, nothing queued, one
				// caller woken) does not yield and pays no extra latency.
				n.gather()
			}
			n.propose(p)
		case f := <-n.localc:
			n.advanceClock(false)
			f()
		case <-n.stopc:
			return
		}
		n.drainInputs()
		if n.loop.tickDue {
			// The ticker's own tick, the one that may fire timeouts, comes
			// after whatever was already waiting (see advanceClock).
			n.loop.tickDue = false
			n.rn.Tick()
		}
		if n.rn.HasReady() {
			n.handleReady(n.rn.Ready())
		}
	}
}

// maxGatherYields bounds how many times gather yields for one batch.
const maxGatherYields = 8

// gather yields to the goroutines ready to run, and yields again as long
// as each round brings more proposals and one batch has room for them.
// One yield is not always enough: when the other processor is idle it
// takes this loop back at once, while the woken callers still queue
// behind one another on this one. A round that brings nothing ends it,
// unless fewer proposals are queued than the callers the apply stage
// just woke: those are on their way (on the other processor, or behind
// a goroutine this one runs first), and one more yield, a few
// microseconds when nothing else is runnable, lets one append carry
// them instead of two appends, two writes on every node and two rounds
// of messages (at 16 proposers: about 10% more commits per second and
// 15% less CPU per commit). maxGatherYields bounds the wait for callers
// that do not propose again.
func (n *Node) gather() {
	for range maxGatherYields {
		queued := len(n.propc)
		runtime.Gosched()
		q := len(n.propc)
		if q+1 >= n.cfg.MaxAppendEntries {
			return
		}
		if q == queued && q+1 >= int(n.lastWoken.Load()) {
			return
		}
	}
}

// advanceClock ages the core by the time that passed since its last tick,
// before the loop steps anything else. A ticker drops the ticks it misses
// (a paused process, SIGSTOP, a starved goroutine), but the core's leases
// must age with real (monotonic) time: a leader paused past an election
// timeout must see its lease expired before it serves a single read. The
// missed ticks are caught up (core.RawNode.CatchUp: they age leases but
// fire no timeout); a ticker event leaves one regular tick due, which the
// loop takes after stepping the inputs that waited meanwhile, so that a
// node stalled for a while hears the messages that arrived during the
// stall before it acts on their apparent absence (a leader would otherwise
// step down for want of the very answers queued for it). A ticker event
// always counts for at least one tick, so an injected clock whose time
// stands still still drives the core.
func (n *Node) advanceClock(fromTicker bool) {
	now := n.cfg.Clock.Now()
	due := int(now.Sub(n.loop.lastTick) / n.loop.tick)
	if fromTicker && due < 1 {
		due = 1
	}
	if due <= 0 {
		return
	}
	n.loop.lastTick = now
	due = min(due, n.loop.maxCatchUp)
	if fromTicker {
		due-- // the regular tick, taken after the waiting inputs
	}
	n.rn.CatchUp(due)
}

// maxBacklog bounds the entries waiting for the storage stage, and those
// waiting for the apply stage, before the loop stops taking new
// proposals: a disk or an FSM slower than the clients then slows the
// clients (their Apply waits, up to its context) instead of growing memory
// without bound. Peer messages and ticks are still served, so the node
// keeps its place in the cluster. (A variable so that a test can make it
// small.)
var maxBacklog int64 = 1 << 16

// proposals returns the proposal channel, or nil (a channel never ready)
// while the storage or apply stage is too far behind.
func (n *Node) proposals() chan *proposal {
	if n.persistBacklog.Load() > maxBacklog || n.applyBacklog.Load() > maxBacklog {
		return nil
	}
	return n.propc
}

// drainInputs steps whatever else is already waiting, without blocking,
// so that one Ready (and one group commit) covers many inputs.
func (n *Node) drainInputs() {
	for i := 0; i < maxEventsPerReady; i++ {
		select {
		case m := <-n.recvc:
			n.stepPeer(m)
		case p := <-n.proposals():
			n.propose(p)
		case f := <-n.localc:
			f()
		default:
			return
		}
	}
}

// stepPeer steps a message from the network. A leader restamps forwarded
// proposals with its own clock (Entry.Time is always the leader's) and
// drops copies of forwarded proposals it already appended in this term.
func (n *Node) stepPeer(m wire.Message) {
	if m.Type == wire.MsgFoundingQuery || m.Type == wire.MsgFoundingQueryResp {
		n.stepFounding(m)
		return
	}
	if m.Type == wire.MsgProp && n.loop.soft.State == core.StateLeader {
		m.Entries = n.loop.recent.filter(n.pub.term.Load(), slices.Clone(m.Entries))
		if len(m.Entries) == 0 {
			n.log.Debug("dropped a duplicate forwarded proposal", "from", string(m.From))
			return
		}
		now := n.cfg.Clock.Now().UnixNano()
		for i := range m.Entries {
			m.Entries[i].Time = now
		}
	}
	if err := n.rn.StepPeer(m); err != nil {
		n.log.Debug("dropped message from peer", "type", m.Type.String(), "from", string(m.From), "term", m.Term, "error", err)
		return
	}
	n.noteContact(m)
}

// propose hands p, and every proposal already queued behind it (up to
// MaxAppendEntries), to the core as one append.
func (n *Node) propose(p *proposal) {
	batch := append(n.loop.batch[:0], p)
more:
	for len(batch) < n.cfg.MaxAppendEntries {
		select {
		case q := <-n.propc:
			batch = append(batch, q)
		default:
			break more
		}
	}
	n.loop.lastBatch = len(batch)
	defer func() {
		clear(batch)
		n.loop.batch = batch[:0]
	}()

	if n.loop.soft.State != core.StateLeader && (n.cfg.DisableForwarding || n.loop.soft.Lead == wire.None) {
		err := notCommitted(n.notLeader())
		for _, q := range batch {
			n.props.resolve(q.id, outcome{err: err})
		}
		return
	}
	now := n.cfg.Clock.Now().UnixNano()
	// A fresh slice each time: a follower's core forwards it as it is.
	claimed := n.props.claimAll(batch, n.loop.epoch, batch[:0])
	ents := make([]wire.Entry, 0, len(claimed))
	for _, q := range claimed {
		ents = append(ents, wire.Entry{Type: wire.EntryNormal, Data: q.data, Origin: n.id, ProposalID: q.id, Time: now})
	}
	if len(ents) == 0 {
		return
	}
	err := n.rn.Propose(ents...)
	if err == nil {
		return
	}
	cause := err
	if n.loop.soft.State != core.StateLeader {
		cause = n.notLeader()
	}
	for _, q := range claimed {
		n.props.resolve(q.id, outcome{err: notCommitted(cause)})
	}
}

// notLeader describes the leader this node knows of.
func (n *Node) notLeader() *NotLeaderError {
	lead := n.loop.soft.Lead
	return &NotLeaderError{LeaderID: lead, LeaderAddress: n.addressOf(lead)}
}

// handleReady dispatches one Ready: messages to the transport now, writes
// to the storage stage, committed entries to the apply stage.
func (n *Node) handleReady(rd core.Ready) {
	var marker uint64
	if rd.SoftState != nil && *rd.SoftState != n.loop.soft {
		marker = n.onSoftState(*rd.SoftState)
	}
	if !rd.HardState.IsEmpty() {
		n.pub.term.Store(rd.HardState.Term)
		n.pub.commit.Store(rd.HardState.Commit)
	}
	for _, m := range rd.Messages {
		if m.Type == wire.MsgSnap {
			n.sendSnapshot(m)
			continue
		}
		n.trans.Send(m)
	}
	if rd.Snapshot != nil || len(rd.Entries) > 0 || !rd.HardState.IsEmpty() || len(rd.DurableMessages) > 0 {
		n.persistBacklog.Add(int64(len(rd.Entries)))
		n.persistQ.push(persistItem{
			snap:     rd.Snapshot,
			entries:  rd.Entries,
			hs:       rd.HardState,
			messages: rd.DurableMessages,
		})
	}
	if rd.Snapshot != nil || len(rd.CommittedEntries) > 0 || len(rd.ReadStates) > 0 || marker != 0 {
		n.applyBacklog.Add(int64(len(rd.CommittedEntries)))
		n.applyQ.push(applyItem{
			snap:    rd.Snapshot,
			entries: rd.CommittedEntries,
			reads:   rd.ReadStates,
			epoch:   marker,
		})
	}
	if rd.Snapshot != nil || hasConfig(rd.Entries) {
		n.syncPeers(n.rn.Status().Config)
	}
}

func hasConfig(ents []wire.Entry) bool {
	for i := range ents {
		if ents[i].Type == wire.EntryConfig {
			return true
		}
	}
	return false
}

// onSoftState records a change of leader or role, tells observers, and
// returns the new epoch for the apply stage's marker.
func (n *Node) onSoftState(ss core.SoftState) uint64 {
	old := n.loop.soft
	n.loop.soft = ss
	n.loop.epoch++
	n.pub.state.Store(uint32(ss.State))
	lead := ss.Lead
	n.pub.leader.Store(&lead)
	if old.Lead != ss.Lead || (old.State == core.StateLeader) != (ss.State == core.StateLeader) {
		n.log.Info("leader changed", "leader", string(ss.Lead), "state", ss.State.String(), "term", n.pub.term.Load())
	}
	n.notifyObservers(LeaderChange{
		Term:          n.rn.Status().HardState.Term,
		Leader:        ss.Lead,
		LeaderAddress: n.addressOf(ss.Lead),
		State:         stateOf(ss.State),
	})
	return n.loop.epoch
}

// syncPeers tells the transport the address of every member of conf, and
// forgets servers that left it.
func (n *Node) syncPeers(conf wire.Configuration) {
	c := conf.Clone()
	n.pub.config.Store(&c)
	n.addPeers(conf.Servers)
	seen := map[wire.NodeID]bool{}
	for _, s := range conf.Servers {
		seen[s.ID] = true
	}
	for id := range n.peers {
		// The leader stays reachable even when the newest configuration
		// drops it: a leader removing itself still needs the answers that
		// commit its removal.
		if !seen[id] && id != n.loop.soft.Lead {
			delete(n.peers, id)
			n.trans.RemovePeer(id)
		}
	}
}

// addPeers tells the transport the address of every other server of
// servers that has one, keeping the rest it knows. It runs on the loop.
func (n *Node) addPeers(servers []wire.Server) {
	for _, s := range servers {
		if s.ID == n.id || s.Address == "" || n.peers[s.ID] == s.Address {
			continue
		}
		n.peers[s.ID] = s.Address
		n.trans.SetPeer(s.ID, s.Address)
	}
}

// addressOf returns the address of member id in the newest configuration.
func (n *Node) addressOf(id wire.NodeID) string {
	if id == wire.None {
		return ""
	}
	if c := n.pub.config.Load(); c != nil {
		if s, ok := c.Server(id); ok {
			return s.Address
		}
	}
	return ""
}
