package raft

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/wire"
)

func readCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestLinearizableReadOnLeaderAndFollowerSeesEveryEarlierWrite(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	for _, id := range c.ids {
		res := c.apply(lead, "w-"+string(id))
		// The read starts after the write was acknowledged: it must see it.
		if err := c.node(id).Read(readCtx(t, waitDeadline), ReadConsistency{}); err != nil {
			t.Fatalf("linearizable read on %s: %v", id, err)
		}
		if got := c.nodes[id].fsm.lastIndex(); got < res.Index {
			t.Fatalf("%s read at applied %d, before the acknowledged write at %d", id, got, res.Index)
		}
	}
}

func TestLeaseReadNeedsTheOption(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	err := c.node(lead).Read(readCtx(t, waitDeadline), ReadConsistency{Mode: Lease})
	if !errors.Is(err, ErrLeaseReadsDisabled) {
		t.Fatalf("lease read without LeaseReads: %v, want ErrLeaseReadsDisabled", err)
	}
	if err := c.node(lead).Read(readCtx(t, waitDeadline), ReadConsistency{Mode: 42}); !errors.Is(err, ErrInvalidReadMode) {
		t.Fatalf("unknown mode: %v, want ErrInvalidReadMode", err)
	}
	err = Config{ID: "x", LeaseReads: true, DisableCheckQuorum: true}.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("LeaseReads without check-quorum validated: %v", err)
	}
}

func TestLeaseReadOnLeaderAndFollowerSeesEveryEarlierWrite(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.LeaseReads = true }))
	c.start(true)
	lead := c.waitLeader()
	for _, id := range c.ids {
		res := c.apply(lead, "w-"+string(id))
		if err := c.node(id).Read(readCtx(t, waitDeadline), ReadConsistency{Mode: Lease}); err != nil {
			t.Fatalf("lease read on %s: %v", id, err)
		}
		if got := c.nodes[id].fsm.lastIndex(); got < res.Index {
			t.Fatalf("%s read at applied %d, before the acknowledged write at %d", id, got, res.Index)
		}
		// Linearizable reads still work (with a heartbeat round).
		if err := c.node(id).Read(readCtx(t, waitDeadline), ReadConsistency{}); err != nil {
			t.Fatalf("linearizable read on %s: %v", id, err)
		}
	}
}

func TestStaleReadAnswersEvenWhenCutOff(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	f := c.others(lead)[0]
	c.isolate(f)
	if err := c.node(f).Read(readCtx(t, time.Second), ReadConsistency{Mode: Stale}); err != nil {
		t.Fatalf("stale read on a cut-off follower: %v", err)
	}
}

// Every consistency but Stale refuses a partitioned old leader: it may
// have been replaced, and a write committed elsewhere.
func TestPartitionedOldLeaderNeverServesALinearizableRead(t *testing.T) {
	for _, lease := range []bool{false, true} {
		name := "safe"
		if lease {
			name = "lease"
		}
		t.Run(name, func(t *testing.T) {
			c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.LeaseReads = lease }))
			c.start(true)
			old := c.waitLeader()
			c.apply(old, "before")
			c.isolate(old)
			newLead := c.waitLeader(c.others(old)...)
			res := c.apply(newLead, "written-elsewhere")
			modes := []ReadConsistency{{Mode: Linearizable}}
			if lease {
				modes = append(modes, ReadConsistency{Mode: Lease})
			}
			for _, rc := range modes {
				err := c.node(old).Read(readCtx(t, 3*testElection), rc)
				if err == nil {
					t.Fatalf("%s read served by the partitioned old leader (new write at %d, old leader applied %d)",
						rc.Mode, res.Index, c.nodes[old].fsm.lastIndex())
				}
			}
			if err := c.node(old).Read(readCtx(t, time.Second), Bounded(1000, 2*testElection)); !errors.Is(err, ErrTooStale) {
				t.Fatalf("bounded read on the old leader cut off for an election timeout: %v, want ErrTooStale", err)
			}
		})
	}
}

func TestBoundedReadOnAHealthyFollowerSucceeds(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	res := c.apply(lead, "x")
	c.waitApplied(res.Index)
	for _, id := range c.ids {
		waitFor(t, string(id)+" to pass a bounded read", func() bool {
			return c.node(id).Read(readCtx(t, time.Second), Bounded(0, 5*testElection)) == nil
		})
	}
}

func TestBoundedReadOnACutOffFollowerSaysHowStale(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	f := c.others(lead)[0]
	waitFor(t, "the follower to hear from the leader", func() bool {
		return c.node(f).Read(readCtx(t, time.Second), Bounded(10, 5*testElection)) == nil
	})
	c.isolate(f)
	var se *StaleError
	waitFor(t, "the cut-off follower to refuse", func() bool {
		err := c.node(f).Read(readCtx(t, time.Second), Bounded(10, 2*testElection))
		return errors.As(err, &se)
	})
	if !errors.Is(se, ErrTooStale) || (!se.NeverHeard && se.Lag <= 2*testElection) {
		t.Fatalf("refusal %v does not say the leader was heard too long ago", se)
	}
}

// gatedFSM is a testFSM whose applies wait while its gate is closed.
type gatedFSM struct {
	*testFSM
	mu   sync.Mutex
	gate chan struct{}
}

func (g *gatedFSM) wait() {
	g.mu.Lock()
	ch := g.gate
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (g *gatedFSM) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

func (g *gatedFSM) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gatedFSM) Apply(cmd fsm.Command) fsm.Result {
	g.wait()
	return g.testFSM.Apply(cmd)
}

func (g *gatedFSM) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	g.wait()
	return g.testFSM.ApplyBatch(cmds)
}

func TestBoundedReadOnAFollowerBehindInEntriesSaysHowFar(t *testing.T) {
	c := newTestCluster(t, 3)
	g := &gatedFSM{testFSM: newTestFSM()}
	slow := wire.NodeID("n3")
	for _, id := range c.ids {
		if id == slow {
			c.startWith(id, g, g.testFSM)
		} else {
			c.startNode(id)
		}
		if err := c.node(id).Bootstrap(c.conf); err != nil {
			t.Fatal(err)
		}
	}
	defer g.open()
	lead := c.waitLeader()
	if lead == slow {
		other := c.others(slow)[0]
		if err := c.node(lead).TransferLeadership(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the transfer away from "+string(slow), func() bool { return c.leaderAmong(c.ids...) == other })
		lead = other
	}
	res := c.apply(lead, "x")
	waitFor(t, "n3 to apply", func() bool { return g.lastIndex() >= res.Index })
	g.close()
	for i := 0; i < 20; i++ {
		c.apply(lead, "while-n3-is-stuck")
	}
	var se *StaleError
	waitFor(t, "n3 to learn the leader's commit index", func() bool {
		err := c.node(slow).Read(readCtx(t, time.Second), Bounded(5, 10*testElection))
		return errors.As(err, &se) && se.Entries >= 20
	})
	if se.NeverHeard || se.MaxEntries != 5 {
		t.Fatalf("refusal %+v", se)
	}
	if err := c.node(slow).Read(readCtx(t, time.Second), Bounded(100, 10*testElection)); err != nil {
		t.Fatalf("a looser bound refused: %v", err)
	}
	g.open()
	waitFor(t, "n3 to catch up and pass the tight bound", func() bool {
		return c.node(slow).Read(readCtx(t, time.Second), Bounded(5, 10*testElection)) == nil
	})
}

func TestReadAfterShutdown(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(true)
	n := c.node(c.waitLeader())
	c.stopNode("n1")
	for _, rc := range []ReadConsistency{{}, {Mode: Stale}, Bounded(1, time.Second)} {
		if err := n.Read(context.Background(), rc); !errors.Is(err, ErrShutdown) {
			t.Fatalf("%s read after shutdown: %v, want ErrShutdown", rc.Mode, err)
		}
	}
}

// On a node with lease reads on, a Linearizable read still confirms with
// a quorum: a leader cut off just now, its lease still valid, must not
// serve one.
func TestLinearizableReadIgnoresTheLeaseOfACutOffLeader(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) {
		cfg.LeaseReads = true
		// A long lease, so that the read below is asked while it holds.
		cfg.ElectionTimeout = time.Second
	}))
	c.start(true)
	if err := c.node("n1").Campaign(context.Background()); err != nil {
		t.Fatal(err)
	}
	lead := c.waitLeader()
	c.apply(lead, "x")
	if err := c.node(lead).Read(readCtx(t, waitDeadline), ReadConsistency{Mode: Lease}); err != nil {
		t.Fatalf("lease read on a healthy leader: %v", err)
	}
	c.isolate(lead)
	if err := c.node(lead).Read(readCtx(t, 300*time.Millisecond), ReadConsistency{}); err == nil {
		t.Fatal("a cut-off leader served a linearizable read on its lease")
	}
	if err := c.node(lead).Barrier(readCtx(t, 300*time.Millisecond)); err == nil {
		t.Fatal("a cut-off leader passed a barrier on its lease")
	}
}
