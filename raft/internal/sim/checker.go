package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// checker holds what the safety checks remember across all time and all
// nodes. Everything here is keyed by Raft indexes and terms, never
// iterated where iteration order would matter.
type checker struct {
	// leaders[t] is the node that led term t (Election Safety).
	leaders map[uint64]wire.NodeID
	// logChains maps an entry's (index, term) to the hash of the log prefix
	// ending in it, as first seen in any node's log (Log Matching).
	logChains map[[2]uint64]uint64
	// committed[i] is the prefix hash of the committed log at index i
	// (committed[0] = 0), and committedEnts[i] the entry there.
	committed     []uint64
	committedEnts []wire.Entry
	// commitInTerm[t] is the highest index some node learned committed
	// while in term t (Leader Completeness for leaders of later terms).
	commitInTerm map[uint64]uint64
}

func newChecker() checker {
	return checker{
		leaders:       map[uint64]wire.NodeID{},
		logChains:     map[[2]uint64]uint64{},
		committed:     []uint64{0},
		committedEnts: []wire.Entry{{}},
		commitInTerm:  map[uint64]uint64{},
	}
}

func (c *checker) logChain(index, term uint64) (uint64, bool) {
	if index == 0 {
		return 0, true
	}
	ch, ok := c.logChains[[2]uint64{index, term}]
	return ch, ok
}

func (c *checker) lastCommitted() uint64 { return uint64(len(c.committed) - 1) }

// checkHardState checks what a node may never do to its term, vote and
// commit index while it runs, and records them.
func (s *Sim) checkHardState(n *node, hs wire.HardState) {
	switch {
	case hs.Term < n.term:
		s.fail("term never decreases", fmt.Sprintf("%s: term went from %d to %d", n.id, n.term, hs.Term), n)
	case hs.Term == n.term && n.vote != wire.None && hs.Vote != n.vote:
		s.fail("one vote per term", fmt.Sprintf("%s: vote in term %d changed from %q to %q", n.id, n.term, n.vote, hs.Vote), n)
	case hs.Commit < n.commit:
		s.fail("commit index never decreases", fmt.Sprintf("%s: commit went from %d to %d", n.id, n.commit, hs.Commit), n)
	}
	n.term, n.vote = hs.Term, hs.Vote
}

// checkNewLeader runs when a node becomes leader of its term: nobody else
// led that term, and its log holds every entry committed in earlier terms.
func (s *Sim) checkNewLeader(n *node) {
	s.stats.Elections++
	if other, ok := s.chk.leaders[n.term]; ok && other != n.id {
		s.fail("Election Safety", fmt.Sprintf("%s and %s both led term %d", other, n.id, n.term), n, s.nodes[s.index[other]])
		return
	}
	s.chk.leaders[n.term] = n.id
	if s.onNewLeader != nil {
		s.hook(n, s.onNewLeader)
	}
	var need uint64
	for t, idx := range s.chk.commitInTerm {
		if t < n.term && idx > need {
			need = idx
		}
	}
	if need == 0 {
		return
	}
	if n.held.lastIndex() < need {
		s.fail("Leader Completeness", fmt.Sprintf("%s leads term %d with last index %d, but index %d was committed in an earlier term",
			n.id, n.term, n.held.lastIndex(), need), n)
		return
	}
	at := max(need, n.held.base)
	if ch, _ := n.held.chainAt(at); at <= s.chk.lastCommitted() && ch != s.chk.committed[at] {
		s.fail("Leader Completeness", fmt.Sprintf("%s leads term %d but its log differs from the committed log at or before index %d",
			n.id, n.term, at), n)
	}
}

// checkLogMatching checks entries just added to a node's log: wherever
// two logs hold an entry with the same index and term, the prefix hashes
// must be equal, that is the logs are identical up to it.
func (s *Sim) checkLogMatching(n *node, ents []wire.Entry) {
	for i := range ents {
		e := &ents[i]
		ch, ok := n.held.chainAt(e.Index)
		if !ok || e.Index <= n.held.base {
			continue
		}
		key := [2]uint64{e.Index, e.Term}
		if prev, seen := s.chk.logChains[key]; !seen {
			s.chk.logChains[key] = ch
		} else if prev != ch {
			s.fail("Log Matching", fmt.Sprintf("%s holds entry (index %d, term %d) with a log prefix that differs from another node's",
				n.id, e.Index, e.Term), s.nodes...)
			return
		}
	}
	// Entries at or below the commit index may be rewritten only with
	// themselves: a committed entry never leaves a log.
	if len(ents) > 0 && ents[0].Index <= n.commit {
		s.checkCommittedPrefix(n, n.commit)
	}
}

// checkCommittedPrefix checks that the node's log agrees with the
// committed log up to idx.
func (s *Sim) checkCommittedPrefix(n *node, idx uint64) {
	if idx < n.held.base {
		return
	}
	ch, ok := n.held.chainAt(idx)
	if !ok {
		s.fail("committed entries stay", fmt.Sprintf("%s: log ends at %d, below its commit index %d", n.id, n.held.lastIndex(), idx), n)
		return
	}
	if idx <= s.chk.lastCommitted() && s.chk.committed[idx] != ch {
		s.fail("State Machine Safety", fmt.Sprintf("%s: log up to committed index %d differs from the committed log", n.id, idx), s.nodes...)
	}
}

// checkCommit runs when a node reports its commit index: it never goes
// back, the node's log up to it matches the committed log, and any new
// committed entries extend the global committed log.
func (s *Sim) checkCommit(n *node, c uint64) {
	if c < n.commit {
		s.fail("commit index never decreases", fmt.Sprintf("%s: commit went from %d to %d", n.id, n.commit, c), n)
		return
	}
	if c > n.held.lastIndex() {
		s.fail("commit within log", fmt.Sprintf("%s: commit %d beyond its last index %d", n.id, c, n.held.lastIndex()), n)
		return
	}
	if c == n.commit {
		return
	}
	n.commit = c
	if s.onLeaderCommit != nil && n.role == core.StateLeader {
		s.hook(n, s.onLeaderCommit)
	}
	if c > s.chk.commitInTerm[n.term] {
		s.chk.commitInTerm[n.term] = c
	}
	k := s.chk.lastCommitted()
	if c <= k {
		s.checkCommittedPrefix(n, c)
		return
	}
	if k < n.held.base {
		s.fail("State Machine Safety", fmt.Sprintf("%s: commits %d from a log starting after index %d, beyond the committed index %d everyone knows",
			n.id, c, n.held.base, k), n)
		return
	}
	s.checkCommittedPrefix(n, k)
	for i := k + 1; i <= c && s.violation == nil; i++ {
		ch, _ := n.held.chainAt(i)
		e, _ := n.held.entry(i)
		e.Data = append([]byte(nil), e.Data...)
		s.chk.committed = append(s.chk.committed, ch)
		s.chk.committedEnts = append(s.chk.committedEnts, e)
	}
}

// installSnapshot handles Ready.Snapshot: the node's log and FSM jump to
// the snapshot, which must not be older than what the node applied.
func (s *Sim) installSnapshot(n *node, meta wire.SnapshotMeta) {
	s.stats.SnapInstalls++
	if meta.Index < n.fsm.applied {
		s.fail("no snapshot older than applied", fmt.Sprintf("%s: installs snapshot at %d after applying %d", n.id, meta.Index, n.fsm.applied), n)
		return
	}
	data, ok := s.snaps[meta.ID]
	if !ok || data.applied != meta.Index {
		s.fail("snapshot store", fmt.Sprintf("%s: Ready.Snapshot %q (index %d) is not a snapshot the simulator took", n.id, meta.ID, meta.Index), n)
		return
	}
	chain, ok := s.chk.logChain(meta.Index, meta.Term)
	if !ok || chain != data.digest {
		s.fail("State Machine Safety", fmt.Sprintf("%s: snapshot %q does not match any log's entry (%d, %d)", n.id, meta.ID, meta.Index, meta.Term), n)
		return
	}
	if meta.Index <= s.chk.lastCommitted() && s.chk.committed[meta.Index] != data.digest {
		s.fail("State Machine Safety", fmt.Sprintf("%s: snapshot %q differs from the committed log", n.id, meta.ID), n)
		return
	}
	n.held.installSnapshot(meta.Index, meta.Term, chain)
	n.fsm = data
}

// apply applies one committed entry to the node's FSM: in order, once,
// only if committed, and producing the same state as every other replica
// at that index.
func (s *Sim) apply(n *node, e *wire.Entry) {
	if e.Index != n.fsm.applied+1 {
		s.fail("apply in order, once", fmt.Sprintf("%s: CommittedEntries hands out index %d after applying %d", n.id, e.Index, n.fsm.applied), n)
		return
	}
	if e.Index > n.commit {
		s.fail("apply only committed", fmt.Sprintf("%s: applies %d with commit index %d", n.id, e.Index, n.commit), n)
		return
	}
	n.fsm.apply(e)
	s.stats.Applied++
	if e.Index <= s.chk.lastCommitted() && s.chk.committed[e.Index] != n.fsm.digest {
		s.fail("State Machine Safety", fmt.Sprintf("%s: applied state at index %d differs from the committed log", n.id, e.Index), s.nodes...)
		return
	}
	if e.Origin == n.id && n.proposals[e.ProposalID] {
		delete(n.proposals, e.ProposalID)
		s.acks = append(s.acks, ack{id: e.ProposalID, index: e.Index, node: n.id})
		s.stats.Acked++
		s.maxAcked = max(s.maxAcked, e.Index)
	}
}

// checkReadStates checks every read index the node got: it must cover
// every entry committed before the read was issued (no stale reads).
func (s *Sim) checkReadStates(n *node, rss []core.ReadState) {
	for _, rs := range rss {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(rs.RequestCtx)
		req, ok := s.reads[id]
		if !ok {
			continue
		}
		delete(s.reads, id)
		s.stats.Reads++
		if rs.Index < req.minIndex {
			s.fail("linearizable read", fmt.Sprintf("%s: read %d issued when index %d was committed got read index %d",
				n.id, id, req.minIndex, rs.Index), n)
			return
		}
	}
}

// checkFinal runs once the cluster is quiet: every acknowledged proposal
// is in the committed log exactly once, at the index it was applied at.
func (s *Sim) checkFinal() {
	count := map[uint64]int{}
	for _, e := range s.chk.committedEnts {
		if e.ProposalID != 0 {
			count[e.ProposalID]++
		}
	}
	for _, a := range s.acks {
		switch {
		case count[a.id] != 1:
			s.fail("acknowledged writes survive exactly once", fmt.Sprintf("proposal %d, acknowledged by %s at index %d, is %d times in the committed log",
				a.id, a.node, a.index, count[a.id]), s.nodes...)
			return
		case a.index > s.chk.lastCommitted() || s.chk.committedEnts[a.index].ProposalID != a.id:
			s.fail("acknowledged writes survive exactly once", fmt.Sprintf("proposal %d was acknowledged at index %d, which holds another entry", a.id, a.index), s.nodes...)
			return
		}
	}
}
