package raft

import "github.com/mandate-raft/mandate/wire"

// recentMax bounds how many forwarded proposals a leader remembers.
const recentMax = 1 << 14

type proposalKey struct {
	origin wire.NodeID
	id     uint64
}

// recentProposals remembers the forwarded proposals a leader appended in
// its current term, so that a copy of a MsgProp the network delivered
// twice is not appended twice. Within one term the first copy is in the
// leader's log, so dropping the second loses nothing; the memory is
// cleared when the term changes. Across terms, and for commands a client
// retries itself, exactly-once needs client sessions (fsm/session).
type recentProposals struct {
	term uint64
	seen map[proposalKey]struct{}
	ring []proposalKey // insertion order, to forget the oldest
	next int
}

// filter returns ents without the entries already seen in term, and
// remembers the others. It reuses ents' array.
func (r *recentProposals) filter(term uint64, ents []wire.Entry) []wire.Entry {
	if r.seen == nil || r.term != term {
		r.term, r.seen, r.ring, r.next = term, make(map[proposalKey]struct{}), r.ring[:0], 0
	}
	kept := ents[:0]
	for _, e := range ents {
		if e.Origin == wire.None || e.ProposalID == 0 {
			kept = append(kept, e)
			continue
		}
		k := proposalKey{e.Origin, e.ProposalID}
		if _, dup := r.seen[k]; dup {
			continue
		}
		r.remember(k)
		kept = append(kept, e)
	}
	return kept
}

func (r *recentProposals) remember(k proposalKey) {
	if len(r.ring) < recentMax {
		r.ring = append(r.ring, k)
	} else {
		delete(r.seen, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % recentMax
	}
	r.seen[k] = struct{}{}
}
