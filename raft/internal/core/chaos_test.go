package core

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// TestRandomizedClusterKeepsSafety drives small clusters through random
// ticks, proposals, partitions, message loss, delay and duplication,
// asynchronous disks, crashes that lose unwritten data, and compaction,
// checking Raft's safety properties after every step and convergence at
// the end. MANDATE_CORE_CHAOS_SEEDS raises the number of seeds.
func TestRandomizedClusterKeepsSafety(t *testing.T) {
	seeds := 12
	if v, err := strconv.Atoi(os.Getenv("MANDATE_CORE_CHAOS_SEEDS")); err == nil {
		seeds = v
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			runChaos(t, uint64(seed), 1500)
		})
	}
}

type chaos struct {
	t   *testing.T
	rng *rand.Rand
	nw  *network
	opt func(*Config)
	// leaders maps each term to the node that led it.
	leaders map[uint64]wire.NodeID
	// committed maps each applied index to the entry applied there.
	committed map[uint64]wire.Entry
	// durableCommit is each node's highest persisted commit index.
	durableCommit map[wire.NodeID]uint64
	proposed      int
	// membership enables random membership changes; spare ids join as
	// blank nodes, and an id once removed is never added again.
	membership bool
	// reads maps each pending read's context to the highest index
	// committed anywhere when it was issued: its answer must not be lower.
	reads                    map[string]uint64
	readsIssued, readsServed int
	transfers                int
	lease                    bool
	// tickRate is each node's chance in percent to tick when clocks tick.
	tickRate map[wire.NodeID]int
	spare    []wire.NodeID
	removed  map[wire.NodeID]bool
	changes  int
}

// changeMembership proposes a random single-server change on the leader.
func (c *chaos) changeMembership() {
	lead := c.nw.leader()
	if lead == None {
		return
	}
	rn := c.nw.node(lead).rn
	cfg := rn.Status().Config
	var cc ConfChange
	switch r := c.rng.IntN(4); {
	case r == 0 && len(c.spare) > 0:
		cc = ConfChange{Op: AddLearner, ID: c.spare[0]}
	case r == 1 && len(cfg.Learners()) > 0:
		l := cfg.Learners()
		cc = ConfChange{Op: AddVoter, ID: l[c.rng.IntN(len(l))]}
	case r == 2 && len(cfg.Voters()) > 2:
		v := cfg.Voters()
		cc = ConfChange{Op: DemoteVoter, ID: v[c.rng.IntN(len(v))]}
	case r == 3 && len(cfg.Servers) > 3:
		cc = ConfChange{Op: RemoveServer, ID: cfg.Servers[c.rng.IntN(len(cfg.Servers))].ID}
	default:
		return
	}
	if err := rn.ProposeConfChange(cc); err != nil {
		return
	}
	c.changes++
	switch cc.Op {
	case AddLearner:
		c.spare = c.spare[1:]
	case RemoveServer:
		c.removed[cc.ID] = true
	}
}

// TestRandomizedMembershipChangesKeepSafety adds the random single-server
// membership changes (learners joining blank, promotions, demotions,
// removals, of the leader too) to the randomized run.
func TestRandomizedMembershipChangesKeepSafety(t *testing.T) {
	seeds := 8
	if v, err := strconv.Atoi(os.Getenv("MANDATE_CORE_CHAOS_SEEDS")); err == nil {
		seeds = v
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			_ = runChaosWith(t, uint64(seed)+1000, 1500, true, false)
		})
	}
}

func runChaos(t *testing.T, seed uint64, steps int) { _ = runChaosWith(t, seed, steps, false, false) }

// TestSameInputsGiveSameOutputs runs one randomized scenario twice and
// compares every message sent: the core takes no randomness or time from
// anywhere but its inputs.
func TestSameInputsGiveSameOutputs(t *testing.T) {
	a := runChaosWith(t, 3, 400, true, true)
	b := runChaosWith(t, 3, 400, true, true)
	if len(a.nw.sent) != len(b.nw.sent) || len(a.nw.sent) == 0 {
		t.Fatalf("runs sent %d and %d messages", len(a.nw.sent), len(b.nw.sent))
	}
	for i := range a.nw.sent {
		if x, y := a.nw.sent[i].String(), b.nw.sent[i].String(); x != y {
			t.Fatalf("message %d differs: %s vs %s", i, x, y)
		}
	}
}

// runChaosWith runs one randomized scenario; membership adds membership
// changes, record keeps every message sent in c.nw.sent.
func runChaosWith(t *testing.T, seed uint64, steps int, membership, record bool) *chaos {
	rng := rand.New(rand.NewPCG(seed, 42))
	n := 3 + 2*rng.IntN(2)
	preVote, checkQuorum := rng.IntN(2) == 0, rng.IntN(2) == 0
	lease := checkQuorum && rng.IntN(2) == 0
	opt := func(c *Config) {
		c.PreVote, c.CheckQuorum = preVote, checkQuorum
		if lease {
			c.ReadOnlyOption = ReadOnlyLeaseBased
		}
		c.Seed = int64(seed)
		c.MaxInflightMsgs = 4
		c.MaxSizePerMsg = 256
	}
	c := &chaos{t: t, rng: rng, opt: opt, leaders: map[uint64]wire.NodeID{},
		committed: map[uint64]wire.Entry{}, durableCommit: map[wire.NodeID]uint64{}}
	c.nw = newNetwork(t, ids(n), opt)
	c.membership = membership
	c.removed = map[wire.NodeID]bool{}
	c.reads = map[string]uint64{}
	c.lease = lease
	c.tickRate = map[wire.NodeID]int{}
	c.nw.onRead = c.checkRead
	if membership {
		for i := n + 1; i <= n+4; i++ {
			id := wire.NodeID(fmt.Sprintf("n%d", i))
			c.nw.add(id, newMemStorage(), wire.HardState{}, opt)
			c.spare = append(c.spare, id)
		}
	}
	c.nw.noRecord = !record
	c.nw.onApply = c.checkApply
	for _, id := range c.nw.ids {
		c.nw.node(id).asyncDisk = rng.IntN(2) == 0
		c.tickRate[id] = 60 + rng.IntN(41)
	}
	for i := 0; i < steps; i++ {
		c.step()
		c.check()
	}
	c.converge()
	c.t.Logf("%d nodes pre-vote=%v check-quorum=%v lease=%v: %d proposals accepted, %d entries applied, %d terms with a leader, %d membership changes, %d transfers, %d of %d reads served",
		n, preVote, checkQuorum, lease, c.proposed, len(c.committed), len(c.leaders), c.changes, c.transfers, c.readsServed, c.readsIssued)
	if c.proposed == 0 || len(c.committed) < 10 {
		t.Fatalf("run exercised too little: %d proposals, %d entries applied", c.proposed, len(c.committed))
	}
	return c
}

func (c *chaos) randomNode() *testNode { return c.nw.node(c.nw.ids[c.rng.IntN(len(c.nw.ids))]) }

func (c *chaos) step() {
	nw := c.nw
	switch r := c.rng.IntN(100); {
	case r < 45:
		// Clocks run at different rates, except with lease reads, whose
		// stated assumption is rates within 10% of each other.
		for _, id := range nw.ids {
			if c.lease || c.rng.IntN(100) < c.tickRate[id] {
				nw.node(id).rn.Tick()
			}
		}
	case r < 75:
		n := c.randomNode()
		if n.rn.Propose(wire.Entry{Data: []byte(fmt.Sprint("v", c.proposed))}) == nil {
			c.proposed++
		}
	case r < 78:
		// Partition: a random set of links is cut.
		clear(nw.cut)
		for _, a := range nw.ids {
			for _, b := range nw.ids {
				if a != b && c.rng.IntN(4) == 0 {
					nw.cut[[2]wire.NodeID{a, b}] = true
				}
			}
		}
	case r < 82:
		clear(nw.cut)
	case r < 84:
		// Crash: whatever was not written is lost.
		n := c.randomNode()
		async := n.asyncDisk
		n2 := nw.restart(n.id, c.opt)
		n2.asyncDisk = async
	case r < 85:
		// Compact the log up to what is applied.
		n := c.randomNode()
		st := n.rn.Status()
		if n.appliedIndex > n.store.snap.Index && n.appliedIndex <= n.store.LastIndex() && len(n.stalled) == 0 &&
			st.ConfigIndex <= n.appliedIndex && len(st.Config.Servers) > 0 {
			n.store.compact(n.appliedIndex, st.Config)
		}
	case r < 87 && c.membership:
		c.changeMembership()
	case r < 93:
		// Leadership transfer to a random node (a non-voter is ignored).
		if lead := nw.leader(); lead != None {
			nw.node(lead).rn.TransferLeader(c.randomNode().id)
			c.transfers++
		}
	case r < 94:
		if lead := nw.leader(); lead != None {
			nw.node(lead).rn.ReportUnreachable(c.randomNode().id)
		}
	case r < 98:
		ctx := fmt.Sprint("read-", c.readsIssued)
		c.readsIssued++
		c.reads[ctx] = c.maxCommit()
		if n := c.randomNode(); c.rng.IntN(4) == 0 {
			n.rn.ReadIndexSafe([]byte(ctx))
		} else {
			n.rn.ReadIndex([]byte(ctx))
		}
	}
	// Writes complete at random.
	for _, id := range nw.ids {
		n := nw.node(id)
		if len(n.stalled) > 0 && c.rng.IntN(3) == 0 {
			if c.rng.IntN(2) == 0 {
				nw.flushGrouped(n, 1+c.rng.IntN(len(n.stalled)))
			} else {
				nw.flush(n, 1+c.rng.IntN(len(n.stalled)))
			}
		}
	}
	// Readys are collected; messages are delivered, lost, delayed or
	// duplicated.
	for _, id := range nw.ids {
		nw.handle(nw.node(id))
	}
	msgs := nw.inbox
	nw.inbox = nil
	for _, m := range msgs {
		switch r := c.rng.IntN(100); {
		case r < 5:
			nw.lost(m)
		case r < 15:
			nw.inbox = append(nw.inbox, m)
		case r < 17:
			nw.deliver(m)
			nw.deliver(m)
		default:
			nw.deliver(m)
		}
	}
}

// checkLeaderCompleteness asserts that a leader of the newest term any
// node knows holds every entry applied anywhere so far (Raft's Leader
// Completeness). A leader of an older term may lack entries committed
// after it was deposed, so it is not checked.
func (c *chaos) checkLeaderCompleteness() {
	var lead *testNode
	var term, maxTerm uint64
	for _, id := range c.nw.ids {
		n := c.nw.node(id)
		st := n.rn.Status()
		maxTerm = max(maxTerm, st.HardState.Term, n.hs.Term)
		if st.SoftState.State == StateLeader && st.HardState.Term > term {
			lead, term = n, st.HardState.Term
		}
	}
	if lead == nil || term < maxTerm {
		return
	}
	l := lead.rn.raft.log
	first, last := l.firstIndex(), l.lastIndex()
	for i, e := range c.committed {
		if i > last {
			c.t.Fatalf("leader %s of term %d lacks committed entry %d (its log ends at %d)", lead.id, term, i, last)
		}
		if i < first {
			continue
		}
		if tm, err := l.term(i); err != nil || tm != e.Term {
			c.t.Fatalf("leader %s of term %d has term %d at committed index %d, want %d (%v)", lead.id, term, tm, i, e.Term, err)
		}
	}
}

// maxCommit is the highest index any node knows to be committed.
func (c *chaos) maxCommit() uint64 {
	var m uint64
	for _, id := range c.nw.ids {
		m = max(m, c.nw.node(id).rn.Status().HardState.Commit)
	}
	return m
}

// checkRead asserts linearizability of a read: its index covers every
// entry committed before it was issued.
func (c *chaos) checkRead(n *testNode, rs ReadState) {
	need, ok := c.reads[string(rs.RequestCtx)]
	if !ok {
		c.t.Fatalf("%s got an answer to an unknown read %q", n.id, rs.RequestCtx)
	}
	if rs.Index < need {
		c.t.Fatalf("%s: stale read %q at %d, but %d was committed when it was issued", n.id, rs.RequestCtx, rs.Index, need)
	}
	c.readsServed++
}

func (c *chaos) checkApply(n *testNode, e wire.Entry) {
	if prev, ok := c.committed[e.Index]; ok {
		if prev.Term != e.Term || string(prev.Data) != string(e.Data) || prev.Type != e.Type {
			c.t.Fatalf("%s applied (%d, %d, %q) where (%d, %d, %q) was applied", n.id,
				e.Index, e.Term, e.Data, prev.Index, prev.Term, prev.Data)
		}
		return
	}
	c.committed[e.Index] = e
}

func (c *chaos) check() {
	c.checkLeaderCompleteness()
	for _, id := range c.nw.ids {
		n := c.nw.node(id)
		st := n.rn.Status()
		if st.SoftState.State == StateLeader {
			if l, ok := c.leaders[st.HardState.Term]; ok && l != id {
				c.t.Fatalf("two leaders in term %d: %s and %s", st.HardState.Term, l, id)
			}
			c.leaders[st.HardState.Term] = id
		}
		if n.hs.Commit < c.durableCommit[id] {
			c.t.Fatalf("%s durable commit went back from %d to %d", id, c.durableCommit[id], n.hs.Commit)
		}
		c.durableCommit[id] = n.hs.Commit
	}
}

// converge heals everything and checks that the cluster agrees.
func (c *chaos) converge() {
	nw := c.nw
	defer func() {
		if c.t.Failed() {
			for _, id := range nw.ids {
				n := nw.node(id)
				st := n.rn.Status()
				c.t.Logf("%s: %+v %+v config=%v@%d applied=%d(%d) last=%d stable=%d unstable-off=%d inprog=%d snap=%v store=[%d,%d] stalled=%d progress=%+v",
					id, st.SoftState, st.HardState, st.Config.Servers, st.ConfigIndex, st.Applied, n.appliedIndex, st.LastIndex, st.StableIndex,
					n.rn.raft.log.unstable.offset, n.rn.raft.log.unstable.offsetInProgress, n.rn.raft.log.unstable.snapshot,
					n.store.FirstIndex(), n.store.LastIndex(), len(n.stalled), st.Progress)
			}
		}
	}()
	clear(nw.cut)
	for _, id := range nw.ids {
		nw.node(id).asyncDisk = false
	}
	nw.stabilize()
	nw.tickUntil(500, func() bool { return nw.leader() != None })
	lead := nw.leader()
	for lead != None && nw.node(lead).rn.Propose(wire.Entry{Data: []byte("final")}) != nil {
		nw.tick()
		lead = nw.leader()
	}
	nw.tickUntil(500, func() bool {
		lead = nw.leader()
		if lead == None {
			return false
		}
		st := nw.node(lead).rn.Status()
		want := st.HardState.Commit
		for _, s := range st.Config.Servers {
			if nw.commit(s.ID) != want || nw.node(s.ID).appliedIndex != want {
				return false
			}
		}
		return true
	})
	c.check()
	nw.checkLogsMatch()
	// Reads are served again on the healed cluster, on the leader and on
	// a follower. Without pre-vote a lagging node may still depose the
	// leader once, dropping a round: retry a few rounds.
	for round := 0; ; round++ {
		if round == 10 {
			c.t.Fatal("reads are not served on the healed cluster")
		}
		nw.tickUntil(500, func() bool { return nw.leader() != None })
		lead := nw.leader()
		served := c.readsServed
		readers := []wire.NodeID{lead}
		for _, s := range nw.node(lead).rn.Status().Config.Servers {
			if s.ID != lead {
				readers = append(readers, s.ID)
				break
			}
		}
		for _, id := range readers {
			ctx := fmt.Sprint("final-read-", round, "-", id)
			c.reads[ctx] = c.maxCommit()
			nw.node(id).rn.ReadIndex([]byte(ctx))
		}
		for i := 0; i < 20 && c.readsServed < served+len(readers); i++ {
			nw.tick()
		}
		if c.readsServed == served+len(readers) {
			return
		}
	}
}
