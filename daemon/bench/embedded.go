package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/ondisk"
	"github.com/mandate-raft/mandate/raft"
	snapfile "github.com/mandate-raft/mandate/snapshot/file"
	"github.com/mandate-raft/mandate/transport/tcp"
	"github.com/mandate-raft/mandate/wire"
)

// EmbeddedOptions configures a run against three in-process nodes.
type EmbeddedOptions struct {
	// Clients is the number of concurrent proposers. Default 16.
	Clients int
	// Duration of the measured run. Default 10 s.
	Duration time.Duration
	// Payload is the size of each command in bytes. Default 128.
	Payload int
	// Workload is "apply" (the default: every proposer calls Apply on the
	// leader) or "apply-any" (proposers spread over all three nodes, so
	// followers forward).
	Workload string
	// Dir is where the temporary data directory is made. Default: the
	// system temp dir.
	Dir string
	// Store is the log store engine (logstore/ondisk): "bolt" (the
	// default) or "wal".
	Store string
	// UnsafeNoSync turns off fsync in the log stores (not the default:
	// the figures include durable writes).
	UnsafeNoSync bool
	// Progress receives a progress line; nil for none. Live redraws it.
	Progress io.Writer
	Live     bool
	// Logger receives the nodes' logs. Default: errors only, to stderr.
	Logger hclog.Logger
}

// countingFSM is the benchmark's state machine: it counts commands and
// bytes, so that applying costs almost nothing and the figures measure
// replication and storage.
type countingFSM struct {
	n, bytes atomic.Uint64
}

func (f *countingFSM) Apply(cmd fsm.Command) fsm.Result {
	f.n.Add(1)
	f.bytes.Add(uint64(len(cmd.Data)))
	return fsm.Result{Value: cmd.Index}
}

func (f *countingFSM) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	out := make([]fsm.Result, len(cmds))
	for i, c := range cmds {
		out[i] = f.Apply(c)
	}
	return out
}

func (f *countingFSM) Snapshot() (fsm.Snapshot, error) {
	return countSnap{f.n.Load(), f.bytes.Load()}, nil
}

func (f *countingFSM) Restore(r io.Reader) error {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("bench: restore counter: %w", err)
	}
	f.n.Store(binary.BigEndian.Uint64(b[:8]))
	f.bytes.Store(binary.BigEndian.Uint64(b[8:]))
	return nil
}

type countSnap struct{ n, bytes uint64 }

func (s countSnap) Persist(w io.Writer) error {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.n)
	binary.BigEndian.PutUint64(b[8:], s.bytes)
	_, err := w.Write(b[:])
	return err
}

func (countSnap) Release() {}

// embeddedNode is one node of the in-process cluster.
type embeddedNode struct {
	node  *raft.Node
	trans *tcp.Transport
	store logstore.Store
}

// cluster3 starts three nodes over TCP on 127.0.0.1 with bolt stores in
// dir, bootstrapped together.
func cluster3(dir string, o EmbeddedOptions) ([]*embeddedNode, func(), error) {
	var nodes []*embeddedNode
	closeAll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, n := range nodes {
			if n.node != nil {
				_ = n.node.Shutdown(ctx)
			}
			if n.trans != nil {
				_ = n.trans.Close()
			}
			if n.store != nil {
				_ = n.store.Close()
			}
		}
	}
	var conf wire.Configuration
	for i := range 3 {
		id := wire.NodeID(fmt.Sprintf("n%d", i+1))
		tr, err := tcp.New(tcp.Config{ID: id, ClusterID: "bench", BindAddr: "127.0.0.1:0", Logger: o.Logger.Named("transport")})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("bench: transport: %w", err)
		}
		nodes = append(nodes, &embeddedNode{trans: tr})
		conf.Servers = append(conf.Servers, wire.Server{ID: id, Address: tr.Addr()})
	}
	for i, n := range nodes {
		for _, s := range conf.Servers {
			if s.ID != conf.Servers[i].ID {
				n.trans.SetPeer(s.ID, s.Address)
			}
		}
		ndir := filepath.Join(dir, string(conf.Servers[i].ID))
		st, err := ondisk.Open(filepath.Join(ndir, "raft"), o.Store, ondisk.Options{UnsafeNoSync: o.UnsafeNoSync})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("bench: log store: %w", err)
		}
		n.store = st
		snaps, err := snapfile.Open(filepath.Join(ndir, "snapshots"), snapfile.Options{})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("bench: snapshot store: %w", err)
		}
		n.node, err = raft.NewNode(raft.Config{ID: conf.Servers[i].ID, Logger: o.Logger}, &countingFSM{}, st, snaps, n.trans)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("bench: node: %w", err)
		}
		if err := n.node.Bootstrap(conf); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("bench: bootstrap: %w", err)
		}
	}
	return nodes, closeAll, nil
}

// leaderOf waits until one of nodes leads and every node knows it (so
// that followers can forward from the first proposal on).
func leaderOf(ctx context.Context, nodes []*embeddedNode) (*raft.Node, error) {
	for {
		for _, n := range nodes {
			if n.node.State() != raft.Leader {
				continue
			}
			known := true
			for _, o := range nodes {
				if lead, _ := o.node.Leader(); lead != n.node.ID() {
					known = false
				}
			}
			if known {
				return n.node, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bench: no leader elected: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// RunEmbedded starts three Raft nodes in this process over real TCP on
// 127.0.0.1 with bolt stores in a temporary directory, proposes
// Payload-byte commands through Node.Apply for Duration, and removes
// everything afterwards.
func RunEmbedded(ctx context.Context, o EmbeddedOptions) (Result, error) {
	if o.Clients <= 0 {
		o.Clients = 16
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Payload <= 0 {
		o.Payload = 128
	}
	if o.Store == "" {
		o.Store = ondisk.Bolt
	}
	if o.Workload == "" {
		o.Workload = "apply"
	}
	if o.Workload != "apply" && o.Workload != "apply-any" {
		return Result{}, fmt.Errorf("bench: unknown embedded workload %q (have apply, apply-any)", o.Workload)
	}
	if o.Logger == nil {
		o.Logger = hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Error, Output: os.Stderr})
	}
	dir, err := os.MkdirTemp(o.Dir, "mandate-bench-")
	if err != nil {
		return Result{}, fmt.Errorf("bench: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	nodes, closeAll, err := cluster3(dir, o)
	if err != nil {
		return Result{}, err
	}
	defer closeAll()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	lead, err := leaderOf(wctx, nodes)
	cancel()
	if err != nil {
		return Result{}, err
	}
	var leader atomic.Pointer[raft.Node]
	leader.Store(lead)
	payload := make([]byte, o.Payload)
	for i := range payload {
		payload[i] = byte(i)
	}
	do := func(ctx context.Context, c int, _ uint64) error {
		n := leader.Load()
		if o.Workload == "apply-any" {
			n = nodes[c%len(nodes)].node
		}
		// ctx ends with the run, which bounds every Apply; a deadline of
		// its own per command would cost a timer and a context (about 5%
		// of the CPU per commit at 256 proposers) and measure the harness.
		_, err := n.Apply(ctx, payload)
		if errors.Is(err, raft.ErrNotLeader) {
			if l, lerr := leaderOf(ctx, nodes); lerr == nil {
				leader.Store(l)
			}
		}
		return err
	}
	r := runLoad(ctx, o.Clients, o.Duration, do, o.Progress, o.Live)
	r.Mode, r.Workload, r.Store, r.Payload = "embedded", o.Workload, o.Store, o.Payload
	return r, ctx.Err()
}
