package raft

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/snapshot"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/transport/inmem"
	"github.com/mandate-raft/mandate/wire"
)

// Short timeouts keep cluster tests quick; every wait below polls for an
// outcome with a generous deadline and never asserts speed.
const (
	testHeartbeat = 10 * time.Millisecond
	testElection  = 100 * time.Millisecond
	waitDeadline  = 20 * time.Second
)

// testCluster is a cluster of real Nodes over the in-memory transport,
// with in-memory log and snapshot stores that survive a node's restart.
type testCluster struct {
	t     testing.TB
	net   *inmem.Network
	ids   []wire.NodeID
	nodes map[wire.NodeID]*testNode
	conf  wire.Configuration
	// tweak adjusts each node's Config before it starts.
	tweak func(*Config)
}

type testNode struct {
	id    wire.NodeID
	addr  string
	store logstore.Store
	snaps *snapmem.Store
	// snapsWrap, when set, is the snapshot store the node uses (wrapping
	// snaps).
	snapsWrap snapshot.Store
	fsm       *testFSM
	trans     *inmem.Transport
	node      *Node // nil while down
}

type clusterOpt func(*testCluster)

// withConfig adjusts every node's Config.
func withConfig(f func(*Config)) clusterOpt { return func(c *testCluster) { c.tweak = f } }

// withMembers makes only the first k nodes members of the bootstrap
// configuration; the others start blank, waiting to be added.
func withMembers(k int) clusterOpt {
	return func(c *testCluster) { c.conf.Servers = c.conf.Servers[:k] }
}

// withStores gives nodes pre-filled log stores (for scenarios set up from
// the Raft paper's figures); the nodes are not bootstrapped.
func withStores(stores map[wire.NodeID]logstore.Store) clusterOpt {
	return func(c *testCluster) {
		for id, s := range stores {
			c.nodes[id].store = s
		}
	}
}

func testLogger(t testing.TB) hclog.Logger {
	if os.Getenv("MANDATE_TEST_LOG") == "" {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug})
}

// newTestCluster creates size nodes n1..n<size>. Unless started with
// pre-filled stores, every node is bootstrapped with the same voters.
// Nothing runs until start.
func newTestCluster(t testing.TB, size int, opts ...clusterOpt) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: inmem.NewNetwork(1), nodes: map[wire.NodeID]*testNode{}}
	for i := 1; i <= size; i++ {
		id := wire.NodeID(fmt.Sprintf("n%d", i))
		tn := &testNode{id: id, addr: fmt.Sprintf("addr-%d", i), store: memory.New(), snaps: snapmem.New(2), fsm: newTestFSM()}
		c.ids = append(c.ids, id)
		c.nodes[id] = tn
		c.conf.Servers = append(c.conf.Servers, wire.Server{ID: id, Address: tn.addr})
	}
	for _, o := range opts {
		o(c)
	}
	t.Cleanup(c.shutdown)
	return c
}

// start starts every node; bootstrap says whether to bootstrap them.
func (c *testCluster) start(bootstrap bool) {
	c.t.Helper()
	for _, id := range c.ids {
		c.startNode(id)
		if _, member := c.conf.Server(id); bootstrap && member {
			if err := c.nodes[id].node.Bootstrap(c.conf); err != nil {
				c.t.Fatalf("bootstrap %s: %v", id, err)
			}
		}
	}
}

func (c *testCluster) config(id wire.NodeID) Config {
	cfg := Config{
		ID:               id,
		HeartbeatTimeout: testHeartbeat,
		ElectionTimeout:  testElection,
		Logger:           testLogger(c.t).Named(string(id)),
		// Snapshots only when a test asks.
		SnapshotThreshold: 1 << 40,
		SnapshotInterval:  time.Hour,
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

// startNode (re)starts a node on its stores with a fresh FSM, as after a
// process restart.
func (c *testCluster) startNode(id wire.NodeID) *Node {
	c.t.Helper()
	tn := c.nodes[id]
	if tn.node != nil {
		c.t.Fatalf("%s is already running", id)
	}
	tr, err := c.net.NewTransport(tn.addr)
	if err != nil {
		c.t.Fatalf("transport for %s: %v", id, err)
	}
	tn.trans = tr
	tn.fsm = newTestFSM()
	var snaps snapshot.Store = tn.snaps
	if tn.snapsWrap != nil {
		snaps = tn.snapsWrap
	}
	n, err := NewNode(c.config(id), tn.fsm, tn.store, snaps, tr)
	if err != nil {
		_ = tr.Close()
		c.t.Fatalf("start %s: %v", id, err)
	}
	tn.node = n
	return n
}

// stopNode shuts a node down and closes its transport. Its stores keep
// what it wrote (the in-memory stores have nothing unsynced to lose).
func (c *testCluster) stopNode(id wire.NodeID) {
	c.t.Helper()
	tn := c.nodes[id]
	if tn.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	if err := tn.node.Shutdown(ctx); err != nil && ctx.Err() != nil {
		c.t.Errorf("shutdown %s: %v", id, err)
	}
	_ = tn.trans.Close()
	tn.node, tn.trans = nil, nil
}

func (c *testCluster) shutdown() {
	for _, id := range c.ids {
		c.stopNode(id)
	}
}

func (c *testCluster) node(id wire.NodeID) *Node { return c.nodes[id].node }

// running returns the IDs of the running nodes.
func (c *testCluster) running() []wire.NodeID {
	var out []wire.NodeID
	for _, id := range c.ids {
		if c.nodes[id].node != nil {
			out = append(out, id)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaderAmong returns the single node among ids that believes it leads
// and that every other node in ids follows, or "".
func (c *testCluster) leaderAmong(ids ...wire.NodeID) wire.NodeID {
	var lead wire.NodeID
	for _, id := range ids {
		n := c.node(id)
		if n == nil {
			continue
		}
		if n.State() == Leader {
			if lead != wire.None {
				return wire.None
			}
			lead = id
		}
	}
	if lead == wire.None {
		return wire.None
	}
	for _, id := range ids {
		if n := c.node(id); n != nil {
			if l, _ := n.Leader(); l != lead {
				return wire.None
			}
		}
	}
	return lead
}

// waitLeader waits until the running nodes among ids (all running nodes
// if none given) agree on one leader among them, and returns it.
func (c *testCluster) waitLeader(ids ...wire.NodeID) wire.NodeID {
	c.t.Helper()
	if len(ids) == 0 {
		ids = c.running()
	}
	var lead wire.NodeID
	waitFor(c.t, fmt.Sprintf("a leader among %v", ids), func() bool {
		lead = c.leaderAmong(ids...)
		return lead != wire.None
	})
	return lead
}

// apply applies cmd through node id and fails the test unless it commits.
func (c *testCluster) apply(id wire.NodeID, cmd string) Applied {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	res, err := c.node(id).Apply(ctx, []byte(cmd))
	if err != nil {
		c.t.Fatalf("apply %q on %s: %v", cmd, id, err)
	}
	return res
}

// applyRetry applies cmd on the current leader until it is acknowledged,
// retrying when it was not committed and also when the outcome is unknown
// (spurious elections happen on a loaded test machine; the test FSM
// records commands by index, so a command applied twice does no harm).
func (c *testCluster) applyRetry(cmd string) Applied {
	c.t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		lead := c.waitLeader()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := c.node(lead).Apply(ctx, []byte(cmd))
		cancel()
		if err == nil {
			return res
		}
		retryable := isNotCommitted(err) || errors.Is(err, ErrOutcomeUnknown)
		if !retryable || time.Now().After(deadline) {
			c.t.Fatalf("apply %q on %s: %v", cmd, lead, err)
		}
	}
}

// waitApplied waits until every running node's FSM has applied index.
func (c *testCluster) waitApplied(index uint64) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("every running node to apply %d", index), func() bool {
		for _, id := range c.running() {
			if c.nodes[id].fsm.lastIndex() < index {
				return false
			}
		}
		return true
	})
}

// checkFSMsAgree fails unless every running node's FSM applied the same
// command at every index both applied (State Machine Safety).
func (c *testCluster) checkFSMsAgree() {
	c.t.Helper()
	var ref map[uint64]string
	var refID wire.NodeID
	for _, id := range c.running() {
		got := c.nodes[id].fsm.history()
		if ref == nil {
			ref, refID = got, id
			continue
		}
		for idx, cmd := range got {
			if other, ok := ref[idx]; ok && other != cmd {
				c.t.Fatalf("State Machine Safety broken at index %d: %s applied %q, %s applied %q", idx, refID, other, id, cmd)
			}
		}
	}
}

// logOf returns the entries of a node's log store.
func logOf(t *testing.T, s logstore.Store) []wire.Entry {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if last == 0 {
		return nil
	}
	ents, err := s.Entries(first, last+1, 0)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return ents
}

// isolate cuts node id off from every other node.
func (c *testCluster) isolate(id wire.NodeID) { c.net.Isolate(c.nodes[id].addr) }

// cut stops messages from one node to another (one way).
func (c *testCluster) cut(from, to wire.NodeID) { c.net.Cut(c.nodes[from].addr, c.nodes[to].addr) }

func (c *testCluster) others(id wire.NodeID) []wire.NodeID {
	var out []wire.NodeID
	for _, o := range c.ids {
		if o != id {
			out = append(out, o)
		}
	}
	return out
}

func (c *testCluster) stats(id wire.NodeID) Stats {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	s, err := c.node(id).Stats(ctx)
	if err != nil {
		c.t.Fatalf("stats of %s: %v", id, err)
	}
	return s
}

// ackLog records commands whose Apply returned success.
type ackLog struct {
	mu   sync.Mutex
	acks map[string]uint64
}

func (a *ackLog) add(cmd string, idx uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.acks == nil {
		a.acks = map[string]uint64{}
	}
	a.acks[cmd] = idx
}

// checkPresent fails unless every acknowledged command sits at its index
// in f's history.
func (a *ackLog) checkPresent(t *testing.T, who wire.NodeID, f *testFSM) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	h := f.history()
	var keys []string
	for k := range a.acks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, cmd := range keys {
		if got := h[a.acks[cmd]]; got != cmd {
			t.Fatalf("acknowledged write %q (index %d) lost on %s: index holds %q", cmd, a.acks[cmd], who, got)
		}
	}
}
