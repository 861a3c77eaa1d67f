package raft

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore/memory"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/transport/tcp"
	"github.com/mandate-raft/mandate/wire"
)

// tcpNode is one node of a cluster over the real TCP transport on
// 127.0.0.1.
type tcpNode struct {
	id    wire.NodeID
	addr  string
	store *memory.Store
	snaps *snapmem.Store
	fsm   *testFSM
	trans *tcp.Transport
	node  *Node
}

func (tn *tcpNode) start(t *testing.T, conf *wire.Configuration) {
	t.Helper()
	bind := tn.addr
	if bind == "" {
		bind = "127.0.0.1:0"
	}
	tr, err := tcp.New(tcp.Config{ID: tn.id, ClusterID: "raft-test", BindAddr: bind, Logger: testLogger(t).Named("tcp")})
	if err != nil {
		t.Fatalf("tcp transport for %s: %v", tn.id, err)
	}
	tn.trans, tn.addr, tn.fsm = tr, tr.Addr(), newTestFSM()
	if conf == nil {
		return // started by the caller once every address is known
	}
	tn.run(t)
}

func (tn *tcpNode) run(t *testing.T) {
	t.Helper()
	cfg := Config{
		ID: tn.id, HeartbeatTimeout: 20 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		TrailingLogs: 2, SnapshotThreshold: 1 << 40, SnapshotInterval: time.Hour,
		Logger: testLogger(t).Named(string(tn.id)),
	}
	n, err := NewNode(cfg, tn.fsm, tn.store, tn.snaps, tn.trans)
	if err != nil {
		t.Fatalf("start %s: %v", tn.id, err)
	}
	tn.node = n
}

func (tn *tcpNode) stop(t *testing.T) {
	t.Helper()
	if tn.node != nil {
		if err := tn.node.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown %s: %v", tn.id, err)
		}
		tn.node = nil
	}
	if tn.trans != nil {
		_ = tn.trans.Close()
		tn.trans = nil
	}
}

func TestClusterOverTCPReplicatesForwardsAndInstallsSnapshots(t *testing.T) {
	var nodes []*tcpNode
	var conf wire.Configuration
	for i := 1; i <= 3; i++ {
		tn := &tcpNode{id: wire.NodeID(fmt.Sprintf("n%d", i)), store: memory.New(), snaps: snapmem.New(2)}
		tn.start(t, nil)
		nodes = append(nodes, tn)
		conf.Servers = append(conf.Servers, wire.Server{ID: tn.id, Address: tn.addr})
	}
	t.Cleanup(func() {
		for _, tn := range nodes {
			tn.stop(t)
		}
	})
	for _, tn := range nodes {
		tn.run(t)
		if err := tn.node.Bootstrap(conf); err != nil {
			t.Fatal(err)
		}
	}
	leader := func() *tcpNode {
		var lead *tcpNode
		waitFor(t, "a leader over TCP", func() bool {
			for _, tn := range nodes {
				if tn.node != nil && tn.node.State() == Leader {
					lead = tn
					return true
				}
			}
			return false
		})
		return lead
	}
	apply := func(tn *tcpNode, cmd string) Applied {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
		defer cancel()
		for {
			res, err := tn.node.Apply(ctx, []byte(cmd))
			if err == nil {
				return res
			}
			if ctx.Err() != nil {
				t.Fatalf("apply %q on %s: %v", cmd, tn.id, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	lead := leader()
	var follower *tcpNode
	for _, tn := range nodes {
		if tn != lead {
			follower = tn
			break
		}
	}
	waitFor(t, "the follower to know the leader", func() bool { l, _ := follower.node.Leader(); return l == lead.id })
	if res := apply(follower, "forwarded-over-tcp"); res.Result.Value != 1 {
		t.Fatalf("forwarded apply: %+v", res)
	}

	// A follower down while the leader writes and compacts catches up by a
	// snapshot streamed over TCP.
	follower.stop(t)
	var last Applied
	for i := 0; i < 20; i++ {
		last = apply(lead, fmt.Sprintf("while-away-%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	meta, err := lead.node.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower.start(t, &conf)
	waitFor(t, "the restarted follower to catch up", func() bool { return follower.fsm.lastIndex() >= last.Index })
	if metas, _ := follower.snaps.List(); len(metas) == 0 || metas[0].Index < meta.Index {
		t.Fatalf("the follower holds no snapshot from the leader: %+v", metas)
	}
	for idx, cmd := range lead.fsm.history() {
		if got := follower.fsm.history()[idx]; got != cmd {
			t.Fatalf("index %d: leader applied %q, follower %q", idx, cmd, got)
		}
	}
}
