package raft

import (
	"fmt"
	"slices"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// Founding a cluster safely.
//
// A founding member whose stores are blank cannot tell, by looking at
// them, whether the cluster is new or whether it lost its data directory
// after the cluster formed. In the second case, writing the founding
// configuration again would make it a voter that remembers neither the
// entries it acknowledged nor the votes it cast: it could vote a node that
// misses committed entries into office, and those entries would be lost.
//
// So before it writes the founding configuration, a blank node asks every
// other founding voter what it holds (MsgFoundingQuery). It writes the
// configuration only when every one of them has answered that it holds
// nothing beyond the founding configuration; the first answer from a
// member that holds more (a longer log or a snapshot) means the cluster
// formed without this node's data, and the node stays blank: it votes for
// nobody, and the leader sends it the cluster's state as it does to any
// blank member.
//
// Why this is safe: an entry committed after the founding configuration
// is durable on a majority, so on at least one founding voter other than
// this node (in a cluster of two or more voters), and a log never again
// shrinks back to the founding configuration alone (truncation replaces a
// suffix with the leader's entries; compaction leaves a snapshot). And
// every vote this node may have cast before it lost its data was cast in
// a term no higher than its candidate's current term, which the candidate
// reports; so the node writes the highest term any member reported with a
// vote for itself, and casts no second vote in any term it may have voted
// in. A cluster of one voter has no one to ask: its data, once lost, is
// lost.
//
// The price is that a new cluster forms only when every founding voter is
// up; a founding voter that never comes up must be taken out of the
// founding configuration before the others start.

// founding is a Bootstrap waiting for the other founding voters' answers.
// It is owned by the event loop.
type founding struct {
	ent wire.Entry
	// waiting holds the founding voters that have not answered yet.
	waiting map[wire.NodeID]bool
	// maxTerm is the highest term any answer reported.
	maxTerm uint64
	// asked is when the queries were last sent; warned when the node last
	// logged that it is still waiting.
	asked, warned time.Time
}

// foundingWarnEvery is how often a node still waiting for founding voters
// says so in its log.
const foundingWarnEvery = 10 * time.Second

// startFounding begins a Bootstrap of blank stores with ent, the founding
// configuration entry. A cluster of one voter is founded at once.
func (n *Node) startFounding(ent wire.Entry) error {
	if f := n.loop.founding; f != nil {
		if sameEntry(f.ent, ent) {
			return nil
		}
		return fmt.Errorf("%w: a bootstrap with another configuration (voters %v) is waiting for its founding members",
			ErrAlreadyBootstrapped, f.ent.Config.Voters())
	}
	f := &founding{ent: ent, waiting: map[wire.NodeID]bool{}}
	for _, s := range ent.Config.Servers {
		if s.Role == wire.Voter && s.ID != n.id {
			f.waiting[s.ID] = true
		}
	}
	if len(f.waiting) == 0 {
		return n.writeFounding(ent, 0)
	}
	// The other members' addresses are needed to ask them, and to answer
	// a leader should the cluster turn out to be formed already.
	n.addPeers(ent.Config.Servers)
	n.loop.founding = f
	now := n.cfg.Clock.Now()
	f.warned = now
	n.log.Info("bootstrap: asking the other founding members what they hold before writing the founding configuration",
		"waiting-for", f.pending())
	n.askFounders(now)
	return nil
}

// pending lists the founding voters that have not answered, sorted.
func (f *founding) pending() []wire.NodeID {
	ids := make([]wire.NodeID, 0, len(f.waiting))
	for id := range f.waiting {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// askFounders sends the query to every founding voter that has not
// answered.
func (n *Node) askFounders(now time.Time) {
	f := n.loop.founding
	f.asked = now
	for id := range f.waiting {
		n.trans.Send(wire.Message{Type: wire.MsgFoundingQuery, To: id, From: n.id})
	}
}

// tickFounding asks again, once a heartbeat interval, the founding voters
// that have not answered (a query or its answer may be lost), and says in
// the log who the node is still waiting for.
func (n *Node) tickFounding() {
	f := n.loop.founding
	if f == nil {
		return
	}
	now := n.cfg.Clock.Now()
	if now.Sub(f.asked) >= n.cfg.HeartbeatTimeout {
		n.askFounders(now)
	}
	if now.Sub(f.warned) >= foundingWarnEvery {
		f.warned = now
		n.log.Warn("bootstrap: still waiting for founding members to answer; a new cluster forms only when every founding voter is up",
			"waiting-for", f.pending())
	}
}

// stepFounding handles a founding query or answer. Any node answers a
// query, whatever its state; an answer matters only to a node waiting for
// it.
func (n *Node) stepFounding(m wire.Message) {
	if m.From == wire.None || m.From == n.id || (m.To != wire.None && m.To != n.id) {
		n.log.Debug("dropped a misaddressed founding message", "type", m.Type.String(), "from", string(m.From))
		return
	}
	if m.Type == wire.MsgFoundingQuery {
		n.answerFounder(m.From)
		return
	}
	f := n.loop.founding
	if f == nil || !f.waiting[m.From] {
		return
	}
	if m.Reject {
		n.loop.founding = nil
		n.log.Warn("bootstrap: not writing the founding configuration: the cluster formed already "+
			"(a founding member holds entries beyond it); this node has no state and waits for the leader to send it the cluster's state. "+
			"If this node lost its data directory, that is how it recovers; set bootstrap off for it",
			"member", string(m.From), "member-last-index", m.Index, "member-term", m.Term)
		return
	}
	delete(f.waiting, m.From)
	f.maxTerm = max(f.maxTerm, m.Term)
	if len(f.waiting) > 0 {
		return
	}
	n.loop.founding = nil
	if err := n.writeFounding(f.ent, f.maxTerm); err != nil {
		n.stop(fmt.Errorf("bootstrap: %w", err))
	}
}

// answerFounder tells a founding member what this node holds: its term,
// and whether its log holds anything beyond the founding configuration.
func (n *Node) answerFounder(to wire.NodeID) {
	st := n.rn.Status()
	formed := st.LastIndex > 1 || n.storage.Snapshot().Index > 0
	n.trans.Send(wire.Message{
		Type: wire.MsgFoundingQueryResp, To: to, From: n.id,
		Term: st.HardState.Term, Index: st.LastIndex, Reject: formed,
	})
}
