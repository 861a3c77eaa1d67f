package raft

import (
	"slices"
	"sync"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// Founding a cluster. A node bootstrapped on blank stores cannot tell a new
// cluster from one it was part of before it lost its data directory, so it
// asks every other founding voter what it holds before it writes the
// founding configuration (founding.go explains why that is safe). These
// tests show the rule's three consequences: a cluster forms only once every
// founding voter is up; a member that lost its data does not found the
// cluster again (lostdata_test.go); and a member that writes the founding
// configuration late never casts a second vote in a term it may have voted
// in before.

// A new cluster forms only when every founding voter has answered: two of
// three founding members wait, writing nothing and electing nobody, until
// the third comes up.
func TestFoundingWaitsForEveryFoundingVoter(t *testing.T) {
	c := newTestCluster(t, 3)
	first := []wire.NodeID{"n1", "n2"}
	for _, id := range first {
		if err := c.startNode(id).Bootstrap(c.conf); err != nil {
			t.Fatalf("bootstrap %s: %v", id, err)
		}
	}
	waitFor(t, "n1 and n2 to hear from each other and wait for n3 alone", func() bool {
		for _, id := range first {
			if got := c.stats(id).AwaitingFounders; !slices.Equal(got, []wire.NodeID{"n3"}) {
				return false
			}
		}
		return true
	})
	c.staysFollowers(5*testElection, first...)
	for _, id := range first {
		if s := c.stats(id); len(s.Config.Servers) != 0 || s.LastIndex != 0 {
			t.Fatalf("%s wrote the founding configuration before n3 answered: %+v", id, s)
		}
	}

	if err := c.startNode("n3").Bootstrap(c.conf); err != nil {
		t.Fatalf("bootstrap n3: %v", err)
	}
	lead := c.waitLeader()
	res := c.apply(lead, "formed")
	c.waitApplied(res.Index)
	for _, id := range c.ids {
		if s := c.stats(id); len(s.Config.Voters()) != 3 || len(s.AwaitingFounders) != 0 {
			t.Fatalf("%s after forming: %+v", id, s)
		}
	}
	c.checkFSMsAgree()
}

// hardStateRecorder is a log store that remembers every hard state written
// to it.
type hardStateRecorder struct {
	logstore.Store
	mu   sync.Mutex
	sets []wire.HardState
}

func (r *hardStateRecorder) SetHardState(hs wire.HardState) error {
	r.mu.Lock()
	r.sets = append(r.sets, hs)
	r.mu.Unlock()
	return r.Store.SetHardState(hs)
}

func (r *hardStateRecorder) first() (wire.HardState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return wire.HardState{}, false
	}
	return r.sets[0], true
}

// n1 voted for n2 in term 7, then lost its data before anything beyond the
// founding configuration was committed (n2 never got its no-op to
// anyone). Its blank stores look like a new founding member's, and the
// others, holding only the founding configuration, answer that the
// cluster never formed: n1 may found it. But it must not vote in term 7
// again (were n3 to campaign in term 7, a second vote would make two
// leaders of one term). So n1 writes the highest term the others reported,
// with a vote for itself, and the cluster then forms in a later term.
func TestFoundingMemberStartsInTheHighestReportedTermHavingVoted(t *testing.T) {
	c := newTestCluster(t, 3)
	ent, err := core.Bootstrap(c.conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []wire.NodeID{"n2", "n3"} {
		st := memory.New()
		if err := st.StoreEntries([]wire.Entry{ent}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetHardState(wire.HardState{Term: 7, Vote: "n2"}); err != nil {
			t.Fatal(err)
		}
		c.nodes[id].store = st
	}
	rec := &hardStateRecorder{Store: memory.New()}
	c.nodes["n1"].store = rec
	// n2 and n3 cannot reach each other: neither can win without n1.
	c.cut("n2", "n3")
	c.cut("n3", "n2")
	for _, id := range []wire.NodeID{"n2", "n3"} {
		if err := c.startNode(id).Bootstrap(c.conf); err != nil {
			t.Fatalf("bootstrap of %s, which holds the founding configuration already: %v", id, err)
		}
	}
	if err := c.startNode("n1").Bootstrap(c.conf); err != nil {
		t.Fatalf("bootstrap n1: %v", err)
	}
	waitFor(t, "n1 to write the founding configuration", func() bool {
		_, ok := rec.first()
		return ok
	})
	if hs, _ := rec.first(); hs.Term < 7 || hs.Term == 7 && hs.Vote != "n1" {
		t.Fatalf("n1 founded the cluster with hard state %+v: it may vote a second time in term 7", hs)
	}
	c.net.Heal()
	lead := c.waitLeader()
	if got := c.stats(lead).Term; got <= 7 {
		t.Fatalf("%s leads in term %d; term 7 is spent", lead, got)
	}
	res := c.apply(lead, "formed")
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}
