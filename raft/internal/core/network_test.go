package core

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// testNode is one RawNode with its durable state and what it applied.
type testNode struct {
	id      wire.NodeID
	rn      *RawNode
	store   *memStorage
	hs      wire.HardState
	applied []wire.Entry
	reads   []ReadState
	// stallDisk queues each Ready's writes in stalled instead of
	// completing them; they complete in order once it is cleared.
	stallDisk bool
	stalled   []Ready
	// asyncDisk also queues writes, completed by flush at the test's pace.
	asyncDisk bool
	// appliedIndex is the index of the last entry applied (or snapshot).
	appliedIndex uint64
}

// network routes Readys between test nodes: it persists Entries and
// HardState at once, then sends DurableMessages and steps the
// MsgStorageAppendResp, as a runtime with an instant disk would.
type network struct {
	t     *testing.T
	nodes map[wire.NodeID]*testNode
	ids   []wire.NodeID
	// cut drops messages from -> to.
	cut map[[2]wire.NodeID]bool
	// drop, when set, may drop a message (return true).
	drop func(m wire.Message) bool
	// inbox holds sent, undelivered messages in order.
	inbox []wire.Message
	// sent records every message sent, for assertions.
	sent []wire.Message
	// onApply, when set, sees every entry a node applies.
	onApply func(n *testNode, e wire.Entry)
	// onRead, when set, sees every read state a node receives.
	onRead func(n *testNode, rs ReadState)
	// noRecord turns off recording in sent (long randomized runs).
	noRecord bool
}

func voters(ids ...wire.NodeID) wire.Configuration {
	var c wire.Configuration
	for _, id := range ids {
		c.Servers = append(c.Servers, wire.Server{ID: id, Address: string(id) + ":1", Role: wire.Voter})
	}
	return c
}

func ids(n int) []wire.NodeID {
	out := make([]wire.NodeID, n)
	for i := range out {
		out[i] = wire.NodeID(fmt.Sprintf("n%d", i+1))
	}
	return out
}

// testConfig is the default config of the tests' nodes.
func testConfig(id wire.NodeID, s Storage) Config {
	return Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: s, Seed: 1,
		MaxInflightMsgs: 256}
}

// newNetwork bootstraps a cluster of the given voters, each configured by
// opt (may be nil).
func newNetwork(t *testing.T, members []wire.NodeID, opt func(*Config)) *network {
	t.Helper()
	nw := &network{t: t, nodes: map[wire.NodeID]*testNode{}, cut: map[[2]wire.NodeID]bool{}}
	boot, err := Bootstrap(voters(members...))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range members {
		st := newMemStorageWith(boot)
		nw.add(id, st, wire.HardState{Term: 1}, opt)
	}
	return nw
}

// add creates a node over st with hard state hs.
func (nw *network) add(id wire.NodeID, st *memStorage, hs wire.HardState, opt func(*Config)) *testNode {
	nw.t.Helper()
	c := testConfig(id, st)
	c.HardState = hs
	c.Applied = st.snap.Index
	if opt != nil {
		opt(&c)
	}
	rn, err := NewRawNode(c)
	if err != nil {
		nw.t.Fatalf("NewRawNode(%s): %v", id, err)
	}
	n := &testNode{id: id, rn: rn, store: st, hs: hs, appliedIndex: st.snap.Index}
	nw.nodes[id] = n
	if !slices.Contains(nw.ids, id) {
		nw.ids = append(nw.ids, id)
		slices.Sort(nw.ids)
	}
	return n
}

// restart recreates a node from what it persisted.
func (nw *network) restart(id wire.NodeID, opt func(*Config)) *testNode {
	old := nw.nodes[id]
	n := nw.add(id, old.store, old.hs, opt)
	return n
}

func (nw *network) node(id wire.NodeID) *testNode { return nw.nodes[id] }

// handle processes one node's Ready, if any. It reports whether there
// was one.
func (nw *network) handle(n *testNode) bool {
	if !n.stallDisk && !n.asyncDisk && len(n.stalled) > 0 {
		// The disk recovers: the queued writes complete in order.
		queued := n.stalled
		n.stalled = nil
		for _, rd := range queued {
			nw.persist(n, rd)
		}
		return true
	}
	if !n.rn.HasReady() {
		return false
	}
	rd := n.rn.Ready()
	nw.send(rd.Messages...)
	if n.stallDisk || n.asyncDisk {
		n.stalled = append(n.stalled, rd)
		return true
	}
	nw.persist(n, rd)
	return true
}

// persist completes rd's writes, sends its durable messages, acknowledges
// the writes and applies the committed entries.
func (nw *network) persist(n *testNode, rd Ready) {
	if rd.Snapshot != nil {
		n.store.installSnapshot(*rd.Snapshot)
	}
	n.store.write(rd.Entries)
	if !rd.HardState.IsEmpty() {
		n.hs = rd.HardState
	}
	nw.send(rd.DurableMessages...)
	if rd.Snapshot != nil {
		if err := n.rn.Step(wire.Message{Type: wire.MsgStorageSnapResp, Snapshot: rd.Snapshot}); err != nil {
			nw.t.Fatal(err)
		}
		n.applied = nil // the FSM restarts from the snapshot
		n.appliedIndex = rd.Snapshot.Index
	}
	if k := len(rd.Entries); k > 0 {
		last := rd.Entries[k-1]
		if err := n.rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: last.Index, LogTerm: last.Term}); err != nil {
			nw.t.Fatal(err)
		}
	}
	nw.apply(n, rd)
}

// apply hands rd's committed entries and read states to n's state machine.
func (nw *network) apply(n *testNode, rd Ready) {
	for _, e := range rd.CommittedEntries {
		if e.Index != n.appliedIndex+1 {
			nw.t.Fatalf("%s applied %d after %d", n.id, e.Index, n.appliedIndex)
		}
		n.appliedIndex = e.Index
		n.applied = append(n.applied, e)
		if nw.onApply != nil {
			nw.onApply(n, e)
		}
	}
	n.reads = append(n.reads, rd.ReadStates...)
	if nw.onRead != nil {
		for _, rs := range rd.ReadStates {
			nw.onRead(n, rs)
		}
	}
}

// flushGrouped completes the first k queued writes of n as one group, the
// way a runtime's storage stage does: write everything, then send the
// durable messages, then acknowledge only the last entry written.
func (nw *network) flushGrouped(n *testNode, k int) {
	k = min(k, len(n.stalled))
	queued := n.stalled[:k]
	n.stalled = n.stalled[k:]
	var last *wire.Entry
	var snap *wire.SnapshotMeta
	var msgs []wire.Message
	for i := range queued {
		rd := &queued[i]
		if rd.Snapshot != nil {
			n.store.installSnapshot(*rd.Snapshot)
			snap, last = rd.Snapshot, nil
		}
		n.store.write(rd.Entries)
		if k := len(rd.Entries); k > 0 {
			last = &rd.Entries[k-1]
		}
		if !rd.HardState.IsEmpty() {
			n.hs = rd.HardState
		}
		msgs = append(msgs, rd.DurableMessages...)
	}
	nw.send(msgs...)
	if snap != nil {
		if err := n.rn.Step(wire.Message{Type: wire.MsgStorageSnapResp, Snapshot: snap}); err != nil {
			nw.t.Fatal(err)
		}
	}
	if last != nil {
		if err := n.rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: last.Index, LogTerm: last.Term}); err != nil {
			nw.t.Fatal(err)
		}
	}
	// The apply stage sees the committed entries of every Ready in order.
	for _, rd := range queued {
		if rd.Snapshot != nil {
			n.applied = nil
			n.appliedIndex = rd.Snapshot.Index
		}
		nw.apply(n, rd)
	}
}

// flush completes the first k queued writes of n.
func (nw *network) flush(n *testNode, k int) {
	k = min(k, len(n.stalled))
	queued := n.stalled[:k]
	n.stalled = n.stalled[k:]
	for _, rd := range queued {
		nw.persist(n, rd)
	}
}

func (nw *network) send(msgs ...wire.Message) {
	if !nw.noRecord {
		nw.sent = append(nw.sent, msgs...)
	}
	nw.inbox = append(nw.inbox, msgs...)
}

// stabilize processes Readys and delivers messages until nothing moves.
func (nw *network) stabilize() {
	nw.t.Helper()
	for i := 0; ; i++ {
		if i > 100000 {
			for _, m := range nw.inbox[:min(20, len(nw.inbox))] {
				nw.t.Log(m.String())
			}
			for _, id := range nw.ids {
				n := nw.nodes[id]
				if n.rn.HasReady() {
					r := n.rn.raft
					nw.t.Logf("%s has ready: soft %v/%v hard %v/%v ents %d committed %v applied %d commit %d stable %d first %d stalled %d",
						id, r.softState(), n.rn.prevSoft, r.hardState(), n.rn.prevHard, len(r.log.unstable.nextEntries()),
						r.log.hasNextCommittedEntries(), r.log.applied, r.log.committed, r.log.stableIndex(), r.log.firstIndex(), len(n.stalled))
				}
			}
			nw.t.Fatal("network does not stabilize")
		}
		moved := false
		for _, id := range nw.ids {
			if nw.handle(nw.nodes[id]) {
				moved = true
			}
		}
		if len(nw.inbox) > 0 {
			moved = true
			msgs := nw.inbox
			nw.inbox = nil
			for _, m := range msgs {
				nw.deliver(m)
			}
		}
		if !moved {
			return
		}
	}
}

func (nw *network) deliver(m wire.Message) {
	to := nw.nodes[m.To]
	if to == nil || nw.cut[[2]wire.NodeID{m.From, m.To}] || (nw.drop != nil && nw.drop(m)) {
		nw.lost(m)
		return
	}
	err := to.rn.StepPeer(m)
	if m.Type == wire.MsgSnap {
		// The transport streamed the data; report how it went.
		nw.nodes[m.From].rn.ReportSnapshot(m.To, err == nil)
	}
}

// lost reports a message the network lost, as a transport would for a
// snapshot it failed to stream.
func (nw *network) lost(m wire.Message) {
	if m.Type == wire.MsgSnap {
		if from := nw.nodes[m.From]; from != nil {
			from.rn.ReportSnapshot(m.To, false)
		}
	}
}

// isolate cuts every link to and from id.
func (nw *network) isolate(id wire.NodeID) {
	for _, o := range nw.ids {
		if o != id {
			nw.cut[[2]wire.NodeID{id, o}] = true
			nw.cut[[2]wire.NodeID{o, id}] = true
		}
	}
}

// heal restores every link.
func (nw *network) heal() { clear(nw.cut) }

// tick ticks every node once, then stabilizes.
func (nw *network) tick() {
	for _, id := range nw.ids {
		nw.nodes[id].rn.Tick()
	}
	nw.stabilize()
}

// tickUntil ticks until cond holds, failing after max ticks.
func (nw *network) tickUntil(max int, cond func() bool) {
	nw.t.Helper()
	for i := 0; i < max; i++ {
		if cond() {
			return
		}
		nw.tick()
	}
	if !cond() {
		nw.t.Fatalf("condition not reached within %d ticks", max)
	}
}

// campaign makes id campaign and stabilizes.
func (nw *network) campaign(id wire.NodeID) {
	nw.t.Helper()
	if err := nw.nodes[id].rn.Campaign(); err != nil {
		nw.t.Fatal(err)
	}
	nw.stabilize()
}

// leader returns the single leader of the highest term, or None.
func (nw *network) leader() wire.NodeID {
	var lead wire.NodeID
	var term uint64
	for _, id := range nw.ids {
		st := nw.nodes[id].rn.Status()
		if st.SoftState.State == StateLeader && st.HardState.Term >= term {
			lead, term = id, st.HardState.Term
		}
	}
	return lead
}

// propose proposes data on id and stabilizes.
func (nw *network) propose(id wire.NodeID, data string) error {
	err := nw.nodes[id].rn.Propose(wire.Entry{Data: []byte(data)})
	nw.stabilize()
	return err
}

// state returns id's role.
func (nw *network) state(id wire.NodeID) StateType { return nw.nodes[id].rn.Status().SoftState.State }

// term returns id's term.
func (nw *network) term(id wire.NodeID) uint64 { return nw.nodes[id].rn.Status().HardState.Term }

// commit returns id's commit index.
func (nw *network) commit(id wire.NodeID) uint64 { return nw.nodes[id].rn.Status().HardState.Commit }

// appliedData returns the data of id's applied normal entries.
func (nw *network) appliedData(id wire.NodeID) []string {
	var out []string
	for _, e := range nw.nodes[id].applied {
		if e.Type == wire.EntryNormal {
			out = append(out, string(e.Data))
		}
	}
	return out
}

// checkLogsMatch asserts the Log Matching property across all nodes'
// durable logs and that committed prefixes agree.
func (nw *network) checkLogsMatch() {
	nw.t.Helper()
	for _, a := range nw.ids {
		for _, b := range nw.ids {
			sa, sb := nw.nodes[a].store, nw.nodes[b].store
			hi := min(sa.LastIndex(), sb.LastIndex())
			lo := max(sa.FirstIndex(), sb.FirstIndex())
			for i := hi; i >= lo && i > 0; i-- {
				ta, _ := sa.Term(i)
				tb, _ := sb.Term(i)
				if ta == tb {
					// From here down the logs must be identical.
					for j := i; j >= lo && j > 0; j-- {
						ea, _ := sa.Entries(j, j+1, 0)
						eb, _ := sb.Entries(j, j+1, 0)
						if ea[0].Term != eb[0].Term || string(ea[0].Data) != string(eb[0].Data) {
							nw.t.Fatalf("logs of %s and %s share (%d, %d) but differ at %d", a, b, i, ta, j)
						}
					}
					break
				}
			}
		}
	}
}
