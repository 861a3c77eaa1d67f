package tcp

// Cluster tests: real raft.Nodes talking over this transport on 127.0.0.1,
// with durable bolt log stores and file snapshot stores in t.TempDir().
// Timeouts are short so that elections are quick; every wait polls for an
// outcome with a generous deadline and nothing asserts speed.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/logstore/boltdb"
	"github.com/mandate-raft/mandate/raft"
	snapfile "github.com/mandate-raft/mandate/snapshot/file"
	"github.com/mandate-raft/mandate/wire"
)

const (
	clusterWait = 30 * time.Second
	clusterName = "tcp-cluster-test"
	// regionChunk is the unit in which regionFSM writes and checks its
	// state, so that no snapshot is ever held whole in memory.
	regionChunk = 64 << 10
)

// regionFSM is a state machine whose state is a region of size bytes
// filled deterministically from a digest of every command applied so far:
// each command changes every byte of it. The region is never held in
// memory; Persist generates it chunk by chunk and Restore checks every
// chunk it reads against the one the restored digest implies. Snapshots of
// many megabytes therefore cost a few chunks of RAM per node, while the
// bytes on disk and on the wire are as large as a real state of that size,
// and a single damaged or missing byte fails Restore.
type regionFSM struct {
	size int64

	mu     sync.Mutex
	index  uint64
	digest [32]byte
	// restores counts successful Restores and restoredBytes the region
	// bytes the last one checked.
	restores      int
	restoredBytes int64
}

func newRegionFSM(size int64) *regionFSM { return &regionFSM{size: size} }

func (f *regionFSM) Apply(c fsm.Command) fsm.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := sha256.New()
	h.Write(f.digest[:])
	h.Write(binary.BigEndian.AppendUint64(nil, c.Index))
	h.Write(c.Data)
	copy(f.digest[:], h.Sum(nil))
	f.index = c.Index
	return fsm.Result{Value: c.Index}
}

// state returns the index of the last command applied and the digest.
func (f *regionFSM) state() (uint64, [32]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.index, f.digest
}

func (f *regionFSM) restored() (int, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores, f.restoredBytes
}

func (f *regionFSM) Snapshot() (fsm.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &regionSnapshot{index: f.index, digest: f.digest, size: f.size}, nil
}

// regionHeaderLen is the snapshot header: index, region size, digest.
const regionHeaderLen = 8 + 8 + 32

func (f *regionFSM) Restore(r io.Reader) error {
	var hdr [regionHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("region snapshot header: %w", err)
	}
	index := binary.BigEndian.Uint64(hdr[0:8])
	size := int64(binary.BigEndian.Uint64(hdr[8:16]))
	var digest [32]byte
	copy(digest[:], hdr[16:])
	gen := newRegionGen(digest)
	got := make([]byte, regionChunk)
	for off, k := int64(0), uint64(0); off < size; k++ {
		n := min(int64(regionChunk), size-off)
		if _, err := io.ReadFull(r, got[:n]); err != nil {
			return fmt.Errorf("region snapshot at byte %d of %d: %w", off, size, err)
		}
		if !bytes.Equal(got[:n], gen.chunk(k)[:n]) {
			return fmt.Errorf("region snapshot: chunk %d does not match digest %x", k, digest[:4])
		}
		off += n
	}
	if n, _ := r.Read(got[:1]); n != 0 {
		return errors.New("region snapshot: bytes after the region")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index, f.digest, f.size = index, digest, size
	f.restores++
	f.restoredBytes = size
	return nil
}

type regionSnapshot struct {
	index  uint64
	digest [32]byte
	size   int64
}

func (s *regionSnapshot) Persist(w io.Writer) error {
	hdr := binary.BigEndian.AppendUint64(nil, s.index)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(s.size))
	hdr = append(hdr, s.digest[:]...)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	gen := newRegionGen(s.digest)
	for off, k := int64(0), uint64(0); off < s.size; k++ {
		n := min(int64(regionChunk), s.size-off)
		if _, err := w.Write(gen.chunk(k)[:n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func (s *regionSnapshot) Release() {}

// regionGen yields the region's chunks for one digest: a base chunk drawn
// from the digest (SHA-256 in counter mode), with each chunk's number
// stamped on its first bytes so that no two chunks are alike.
type regionGen struct {
	base, cur []byte
}

func newRegionGen(digest [32]byte) *regionGen {
	base := make([]byte, 0, regionChunk)
	for ctr := uint64(0); len(base) < regionChunk; ctr++ {
		sum := sha256.Sum256(binary.BigEndian.AppendUint64(digest[:], ctr))
		base = append(base, sum[:]...)
	}
	return &regionGen{base: base[:regionChunk], cur: make([]byte, regionChunk)}
}

func (g *regionGen) chunk(k uint64) []byte {
	copy(g.cur, g.base)
	binary.BigEndian.PutUint64(g.cur, k)
	return g.cur
}

func clusterLogger(t testing.TB, name string) hclog.Logger {
	if os.Getenv("MANDATE_TEST_LOG") == "" {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: t.Name() + "." + name, Level: hclog.Debug})
}

// rnode is one cluster member: its stores live in dir and survive its
// restarts; its transport listens on addr, the same across restarts.
type rnode struct {
	id    wire.NodeID
	addr  string
	dir   string
	tls   *tls.Config
	size  int64
	tweak func(*raft.Config)

	store *boltdb.Store
	snaps *snapfile.Store
	fsm   *regionFSM
	trans *Transport
	node  *raft.Node // nil while down
}

// listen opens the node's transport on its address (a free port the first
// time).
func (rn *rnode) listen(t *testing.T) {
	t.Helper()
	bind := rn.addr
	if bind == "" {
		bind = "127.0.0.1:0"
	}
	tr, err := New(Config{
		ID: rn.id, ClusterID: clusterName, BindAddr: bind, TLS: rn.tls,
		BackoffMax: 200 * time.Millisecond, Logger: clusterLogger(t, string(rn.id)+".tcp"),
	})
	if err != nil {
		t.Fatalf("transport for %s on %s: %v", rn.id, bind, err)
	}
	rn.trans, rn.addr = tr, tr.Addr()
}

// start (re)starts the node on its stores with a fresh FSM, as a process
// restart would, opening its transport if it has none.
func (rn *rnode) start(t *testing.T) {
	t.Helper()
	if rn.trans == nil {
		rn.listen(t)
	}
	var err error
	if rn.store, err = boltdb.Open(filepath.Join(rn.dir, "log"), boltdb.Options{}); err != nil {
		t.Fatalf("open log store of %s: %v", rn.id, err)
	}
	if rn.snaps, err = snapfile.Open(filepath.Join(rn.dir, "snapshots"), snapfile.Options{Retain: 2}); err != nil {
		t.Fatalf("open snapshot store of %s: %v", rn.id, err)
	}
	cfg := raft.Config{
		ID: rn.id, HeartbeatTimeout: 20 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		SnapshotThreshold: 1 << 40, SnapshotInterval: time.Hour,
		Logger: clusterLogger(t, string(rn.id)),
	}
	if rn.tweak != nil {
		rn.tweak(&cfg)
	}
	rn.fsm = newRegionFSM(rn.size)
	if rn.node, err = raft.NewNode(cfg, rn.fsm, rn.store, rn.snaps, rn.trans); err != nil {
		t.Fatalf("start %s: %v", rn.id, err)
	}
}

// stop shuts the node down and closes its transport and stores.
func (rn *rnode) stop(t *testing.T) {
	t.Helper()
	if rn.node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
		if err := rn.node.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %s: %v", rn.id, err)
		}
		cancel()
		rn.node = nil
	}
	if rn.trans != nil {
		if err := rn.trans.Close(); err != nil {
			t.Errorf("close transport of %s: %v", rn.id, err)
		}
		rn.trans = nil
	}
	if rn.store != nil {
		if err := rn.store.Close(); err != nil {
			t.Errorf("close log store of %s: %v", rn.id, err)
		}
		rn.store = nil
	}
}

func (rn *rnode) running() bool { return rn.node != nil }

// rcluster is a cluster of rnodes.
type rcluster struct {
	t     *testing.T
	nodes []*rnode
	conf  wire.Configuration
}

type rclusterOpts struct {
	size  int64                                // regionFSM size
	tls   func(id wire.NodeID) *tls.Config     // per-node TLS, or nil
	tweak func(id wire.NodeID, c *raft.Config) // per-node raft config
}

// newRCluster starts n bootstrapped voters n1..n<n>.
func newRCluster(t *testing.T, n int, o rclusterOpts) *rcluster {
	t.Helper()
	c := &rcluster{t: t}
	// The directories come first: cleanups run last-registered first, and
	// the nodes must stop before their directories are removed.
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	t.Cleanup(func() {
		for _, rn := range c.nodes {
			rn.stop(t)
		}
	})
	for i := 1; i <= n; i++ {
		rn := &rnode{id: wire.NodeID(fmt.Sprintf("n%d", i)), dir: dirs[i-1], size: o.size}
		if o.tls != nil {
			rn.tls = o.tls(rn.id)
		}
		if o.tweak != nil {
			id := rn.id
			rn.tweak = func(cfg *raft.Config) { o.tweak(id, cfg) }
		}
		rn.listen(t)
		c.nodes = append(c.nodes, rn)
		c.conf.Servers = append(c.conf.Servers, wire.Server{ID: rn.id, Address: rn.addr})
	}
	for _, rn := range c.nodes {
		rn.start(t)
		if err := rn.node.Bootstrap(c.conf); err != nil {
			t.Fatalf("bootstrap %s: %v", rn.id, err)
		}
	}
	return c
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leader waits for a running node that leads and that every running node
// follows.
func (c *rcluster) leader() *rnode {
	c.t.Helper()
	var lead *rnode
	waitUntil(c.t, "a leader every running node follows", func() bool {
		lead = nil
		for _, rn := range c.nodes {
			if rn.running() && rn.node.State() == raft.Leader {
				lead = rn
			}
		}
		if lead == nil {
			return false
		}
		for _, rn := range c.nodes {
			if l, _ := rn.node0Leader(); rn.running() && l != lead.id {
				return false
			}
		}
		return true
	})
	return lead
}

func (rn *rnode) node0Leader() (wire.NodeID, string) {
	if rn.node == nil {
		return wire.None, ""
	}
	return rn.node.Leader()
}

// follower returns a running node other than lead.
func (c *rcluster) follower(lead *rnode) *rnode {
	for _, rn := range c.nodes {
		if rn != lead && rn.running() {
			return rn
		}
	}
	c.t.Fatal("no running follower")
	return nil
}

// apply proposes cmd through via until it is acknowledged, retrying when
// it was not committed or its outcome is unknown (a spurious election on
// a loaded machine is no failure; a command applied twice moves every
// replica's digest the same way).
func (c *rcluster) apply(via *rnode, cmd string) raft.Applied {
	c.t.Helper()
	deadline := time.Now().Add(clusterWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := via.node.Apply(ctx, []byte(cmd))
		cancel()
		if err == nil {
			return res
		}
		retry := errors.Is(err, raft.ErrNotCommitted) || errors.Is(err, raft.ErrOutcomeUnknown)
		if !retry || time.Now().After(deadline) {
			c.t.Fatalf("apply %q through %s: %v", cmd, via.id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// applyMany applies n commands named prefix-i through the current leader
// and returns the last acknowledgement.
func (c *rcluster) applyMany(prefix string, n int) raft.Applied {
	c.t.Helper()
	var last raft.Applied
	for i := 0; i < n; i++ {
		last = c.apply(c.leader(), fmt.Sprintf("%s-%d", prefix, i))
	}
	return last
}

// agree waits until every running node has applied index and no more,
// then fails unless their FSM digests are equal.
func (c *rcluster) agree(index uint64) [32]byte {
	c.t.Helper()
	waitUntil(c.t, fmt.Sprintf("every running node to apply index %d", index), func() bool {
		for _, rn := range c.nodes {
			if i, _ := rn.fsm.state(); rn.running() && i < index {
				return false
			}
		}
		return true
	})
	var ref [32]byte
	var refID wire.NodeID
	for _, rn := range c.nodes {
		if !rn.running() {
			continue
		}
		i, d := rn.fsm.state()
		if i != index {
			c.t.Fatalf("%s applied up to %d, want %d (no command was proposed after it)", rn.id, i, index)
		}
		if refID == wire.None {
			ref, refID = d, rn.id
		} else if d != ref {
			c.t.Fatalf("at index %d %s has digest %x and %s %x", index, refID, ref[:8], rn.id, d[:8])
		}
	}
	return ref
}

// checkAlive fails unless every running node is still running (it has not
// stopped itself on an error).
func (c *rcluster) checkAlive() {
	c.t.Helper()
	for _, rn := range c.nodes {
		if !rn.running() {
			continue
		}
		select {
		case <-rn.node.Done():
			c.t.Fatalf("%s stopped: %v", rn.id, rn.node.Err())
		default:
		}
	}
}

func stats(t *testing.T, n *raft.Node) raft.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	s, err := n.Stats(ctx)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return s
}

func TestClusterWithBoltStoresCommitsThroughLeaderAndFollower(t *testing.T) {
	c := newRCluster(t, 3, rclusterOpts{})
	lead := c.leader()
	f := c.follower(lead)
	var last raft.Applied
	for i := 0; i < 10; i++ {
		if res := c.apply(lead, fmt.Sprintf("via-leader-%d", i)); res.Result.Value != res.Index {
			t.Fatalf("leader apply answered %+v; the FSM returns the command's index", res)
		}
		last = c.apply(f, fmt.Sprintf("via-follower-%d", i))
		if last.Result.Value != last.Index {
			t.Fatalf("forwarded apply answered %+v; the FSM returns the command's index", last)
		}
	}
	c.agree(last.Index)
	// What was acknowledged is durable: every bolt store holds it.
	for _, rn := range c.nodes {
		if li, err := rn.store.LastIndex(); err != nil || li < last.Index {
			t.Fatalf("%s's bolt store ends at %d (%v), want at least %d", rn.id, li, err, last.Index)
		}
	}
	c.checkAlive()
}

func TestFollowerWhoseTransportClosedCatchesUpOnTheSameAddress(t *testing.T) {
	c := newRCluster(t, 3, rclusterOpts{})
	lead := c.leader()
	c.apply(lead, "before")
	f := c.follower(lead)
	addr := f.addr

	// The follower's listener and connections go away under a running
	// node; the others keep committing without it.
	if err := f.trans.Close(); err != nil {
		t.Fatal(err)
	}
	away := c.applyMany("while-closed", 30)
	if i, _ := f.fsm.state(); i >= away.Index {
		t.Fatalf("a follower without a transport applied up to %d", i)
	}

	// Restart it on the same stores, with a new transport bound to the
	// same address the others know it by.
	f.trans = nil
	f.stop(t)
	f.addr = addr
	f.start(t)
	if f.addr != addr {
		t.Fatalf("the restarted follower listens on %s, want %s", f.addr, addr)
	}
	c.agree(away.Index)

	// It takes part again: a write through it commits everywhere.
	res := c.apply(f, "after")
	c.agree(res.Index)
	c.checkAlive()
}

// regionSize is the FSM state behind the large-snapshot test: 50 MiB,
// streamed chunk by chunk through the snapshot stores and the transport.
// (It takes about two seconds under the race detector too, so it is not
// scaled down.)
const regionSize = 50 << 20

func TestFollowerBehindCompactionReceivesLargeSnapshotOverTCP(t *testing.T) {
	const size = regionSize
	c := newRCluster(t, 3, rclusterOpts{size: size, tweak: func(_ wire.NodeID, cfg *raft.Config) {
		cfg.TrailingLogs = 4
		cfg.SnapshotThreshold = 24
		cfg.SnapshotInterval = 50 * time.Millisecond
	}})
	c.agree(c.applyMany("before", 5).Index)
	lead := c.leader()
	f := c.follower(lead)
	behind := stats(t, f.node).LastIndex
	f.stop(t)

	// The others write on and compact their logs past everything the
	// stopped follower holds.
	last := c.applyMany("while-down", 40)
	waitUntil(t, "the leader to compact its log past the stopped follower", func() bool {
		first, err := lead.store.FirstIndex()
		return err == nil && first > behind+1
	})
	sentBefore := lead.trans.Stats().SnapshotBytesSent

	f.start(t)
	c.agree(last.Index)
	restores, restoredBytes := f.fsm.restored()
	if restores == 0 || restoredBytes != size {
		t.Fatalf("the follower restored %d snapshots (last %d bytes), want one of the %d-byte state", restores, restoredBytes, size)
	}
	if metas, err := f.snaps.List(); err != nil || len(metas) == 0 || metas[0].Size < size {
		t.Fatalf("the follower's snapshot store holds %+v (%v), want the received snapshot", metas, err)
	}
	if sent := lead.trans.Stats().SnapshotBytesSent - sentBefore; sent < uint64(size) {
		t.Fatalf("the leader sent %d snapshot bytes, want at least %d", sent, size)
	}
	t.Logf("state of %d bytes: the leader sent %d snapshot bytes, the follower checked %d", size, lead.trans.Stats().SnapshotBytesSent-sentBefore, restoredBytes)
	// Converged for good: a later write applies on top of the snapshot.
	res := c.apply(f, "after-snapshot")
	c.agree(res.Index)
	c.checkAlive()
}

func TestMutualTLSClusterKeepsOutNodeOfAnotherCA(t *testing.T) {
	ca, rogueCA := newTestCA(t, "cluster-ca"), newTestCA(t, "rogue-ca")
	c := newRCluster(t, 3, rclusterOpts{tls: func(id wire.NodeID) *tls.Config { return ca.tlsConfig(t, string(id)) }})
	c.applyMany("members-only", 5)

	// The intruder trusts the cluster's CA, so it would accept the
	// members, but its own certificate is signed by another CA. Its store
	// holds a founding configuration naming itself and the three members
	// (written there by hand: Bootstrap would first ask the members, who
	// refuse to talk to it, and never write it), and it campaigns without
	// pre-vote, so every election it starts raises its term and asks the
	// members for votes.
	rogueTLS := rogueCA.tlsConfig(t, "n4")
	rogueTLS.RootCAs = ca.tlsConfig(t, "trust").RootCAs
	rogue := &rnode{id: "n4", dir: t.TempDir(), tls: rogueTLS, tweak: func(cfg *raft.Config) {
		cfg.DisablePreVote = true
		cfg.ElectionTimeout = 100 * time.Millisecond
		cfg.HeartbeatTimeout = 10 * time.Millisecond
	}}
	t.Cleanup(func() { rogue.stop(t) })
	rogue.listen(t)
	rogueConf := c.conf.Clone()
	rogueConf.Servers = append(rogueConf.Servers, wire.Server{ID: rogue.id, Address: rogue.addr})
	seed, err := boltdb.Open(filepath.Join(rogue.dir, "log"), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.StoreEntries([]wire.Entry{{Index: 1, Term: 1, Type: wire.EntryConfig, Config: &rogueConf}}); err != nil {
		t.Fatal(err)
	}
	if err := seed.SetHardState(wire.HardState{Term: 1}); err != nil {
		t.Fatal(err)
	}
	if err := seed.Close(); err != nil {
		t.Fatal(err)
	}
	rogue.start(t)

	maxMemberTerm := func() uint64 {
		var m uint64
		for _, rn := range c.nodes {
			m = max(m, stats(t, rn.node).Term)
		}
		return m
	}
	waitUntil(t, "the intruder to campaign well past the members' term", func() bool {
		return stats(t, rogue.node).Term > maxMemberTerm()+5
	})
	last := c.applyMany("while-intruder-campaigns", 10)
	c.agree(last.Index)

	// The members refused its connections, never adopted its term, never
	// let it in, and it learned nothing.
	var rejected uint64
	for _, rn := range c.nodes {
		rejected += rn.trans.Stats().ConnectionsRejected
	}
	if rejected == 0 {
		t.Fatal("no member rejected a connection from the intruder")
	}
	rs := stats(t, rogue.node)
	if mt := maxMemberTerm(); mt >= rs.Term {
		t.Fatalf("a member reached term %d, the intruder's is %d: its votes got through", mt, rs.Term)
	}
	for _, rn := range c.nodes {
		s := stats(t, rn.node)
		if _, in := s.Config.Server(rogue.id); in {
			t.Fatalf("%s's configuration holds the intruder: %+v", rn.id, s.Config)
		}
		if s.Leader == rogue.id || s.Vote == rogue.id {
			t.Fatalf("%s follows or voted for the intruder: %+v", rn.id, s)
		}
	}
	if rs.Leader != wire.None || rs.Commit > 1 {
		t.Fatalf("the intruder knows leader %q and commit %d; it should have learned nothing", rs.Leader, rs.Commit)
	}
	if i, _ := rogue.fsm.state(); i != 0 {
		t.Fatalf("the intruder applied up to index %d", i)
	}

	// Even named a learner by the leader, it receives nothing: the
	// leader's own connections to it fail on its certificate.
	lead := c.leader()
	dialsBefore := lead.trans.Stats().DialFailures
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := lead.node.AddLearner(ctx, rogue.id, rogue.addr); err != nil {
		t.Fatalf("add learner: %v", err)
	}
	waitUntil(t, "the leader to try to reach the learner", func() bool {
		return lead.trans.Stats().DialFailures > dialsBefore+2
	})
	last = c.applyMany("with-unreachable-learner", 10)
	c.agree(last.Index)
	if i, _ := rogue.fsm.state(); i != 0 {
		t.Fatalf("the intruder applied up to index %d through the leader", i)
	}
	if s := stats(t, rogue.node); s.Commit > 1 || s.Leader != wire.None {
		t.Fatalf("the intruder heard from the leader: %+v", s)
	}
	c.checkAlive()
}

func TestHostileBytesOnRaftPortLeaveClusterCommitting(t *testing.T) {
	c := newRCluster(t, 3, rclusterOpts{})
	c.applyMany("before", 5)
	lead := c.leader()
	f := c.follower(lead)

	inputs := hostileFrames(t)
	// A msgpack bomb that fits the frame limit: an append whose entries
	// array claims more elements than any honest message carries.
	inputs["msgpack-bomb"] = framed(amplificationBomb(maxArrayElements + 1))
	rejectedBefore := lead.trans.Stats().ConnectionsRejected + f.trans.Stats().ConnectionsRejected
	sent := 0
	for _, target := range []*rnode{lead, f} {
		// Each input goes once from a stranger on the control lane, and
		// once on the bulk lane from a sender claiming to be another
		// member, whose real link must survive the bad connection.
		claims := []hello{
			{Version: ProtocolVersion, Lane: laneControl, Cluster: clusterName, From: "mallory", To: target.id},
			{Version: ProtocolVersion, Lane: laneBulk, Cluster: clusterName, From: c.follower(target).id, To: target.id},
		}
		for name, in := range inputs {
			for _, h := range claims {
				conn := rawPeer(t, target.addr, &h)
				if _, err := conn.Write(in); err != nil {
					t.Fatalf("%s to %s as %s: %v", name, target.id, h.From, err)
				}
				if name == "truncated" || name == "oversized" {
					// The frame stays incomplete until the sender hangs up.
					_ = conn.(interface{ CloseWrite() error }).CloseWrite()
				}
				closedByPeer(t, conn)
				conn.Close()
				sent++
			}
		}
		// Bytes before any handshake.
		conn := rawPeer(t, target.addr, nil)
		conn.Write([]byte("\x00\x00\x00\x05hello, raft"))
		closedByPeer(t, conn)
		conn.Close()
		sent++
	}
	rejected := lead.trans.Stats().ConnectionsRejected + f.trans.Stats().ConnectionsRejected - rejectedBefore
	if rejected < uint64(sent) {
		t.Fatalf("%d hostile connections, %d rejected", sent, rejected)
	}

	c.checkAlive()
	last := c.applyMany("after", 20)
	c.agree(last.Index)
	res := c.apply(c.follower(c.leader()), "after-via-follower")
	c.agree(res.Index)
	c.checkAlive()
}
