package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mandate-raft/mandate/examples/ledger"
	"github.com/mandate-raft/mandate/examples/lock"
	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/internal/durable"
	"github.com/mandate-raft/mandate/logstore"
	logmem "github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/logstore/ondisk"
	"github.com/mandate-raft/mandate/raft"
	"github.com/mandate-raft/mandate/snapshot"
	snapfile "github.com/mandate-raft/mandate/snapshot/file"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/transport/tcp"
	"github.com/mandate-raft/mandate/wire"
)

// Options describe one node. The config package loads them from YAML
// (see FromConfig); tests and the benchmark build them directly.
type Options struct {
	// NodeID names the node in the cluster. Required.
	NodeID string
	// DataDir holds the node's durable state: raft/ (the bolt log) and
	// snapshots/. Required with the bolt store.
	DataDir string
	// FSM is the registered name of the state machine (fsm.Register);
	// FSMOptions are handed to its factory.
	FSM        string
	FSMOptions map[string]any
	// RaftBind is the address the Raft transport listens on; RaftAdvertise
	// the one peers dial (default: the listener's address, with a port
	// chosen at run time resolved).
	RaftBind, RaftAdvertise string
	// ClusterID names the cluster; peers of another cluster are refused.
	// Default "mandate".
	ClusterID string
	// Bootstrap forms a new cluster of Peers on the first start. On later
	// starts it is a no-op (the node keeps its state).
	Bootstrap bool
	// Peers are the founding members (including this node) for Bootstrap.
	Peers []wire.Server
	// Join lists HTTP addresses of running nodes to ask for membership on
	// the first start.
	Join []string
	// HeartbeatTimeout and ElectionTimeout tune Raft (defaults 100 ms, 1 s).
	HeartbeatTimeout, ElectionTimeout time.Duration
	// Store is "bolt" (default; durable), "wal" (durable in segment
	// files, see logstore/wal) or "memory" (for tests; state is lost on
	// exit).
	Store string
	// SnapshotThreshold, SnapshotInterval, SnapshotRetain and TrailingLogs
	// set the snapshot policy (zero: raft's defaults; retain 3).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	SnapshotRetain    int
	TrailingLogs      uint64
	// UnsafeNoSync turns off fsync in the log store. Benchmarks only.
	UnsafeNoSync bool
	// RaftTLS, when set, secures the Raft transport (mutual TLS).
	RaftTLS *tls.Config
	// DisableMetrics stops serving /metrics.
	DisableMetrics bool
	// HTTPBind is the API's listen address ("127.0.0.1:0" picks a port).
	// Empty: no HTTP server (an embedded node).
	HTTPBind string
	// Logger is the node's root logger. Default: hclog at info on stderr.
	Logger hclog.Logger
	// Version is reported by /v1/status.
	Version string
}

// ErrInvalidOptions is wrapped by every problem New finds in Options.
var ErrInvalidOptions = errors.New("daemon: invalid options")

// Daemon is one running node: its stores, transport, Raft node, FSM and
// HTTP API. Create it with New, stop it with Shutdown.
type Daemon struct {
	opts    Options
	log     hclog.Logger
	fsm     fsm.FSM
	store   logstore.Store
	snaps   snapshot.Store
	trans   *tcp.Transport
	node    *raft.Node
	replica *RaftReplica
	server  *Server
	httpSrv *http.Server
	httpLn  net.Listener
	httpErr chan error
}

// New opens the stores, starts the transport, the Raft node (bootstrapping
// it if asked and new) and the HTTP API. On error everything opened so far
// is closed again.
func New(opts Options) (d *Daemon, err error) {
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "mandate", Level: hclog.Info})
	}
	if opts.ClusterID == "" {
		opts.ClusterID = "mandate"
	}
	if opts.Store == "" {
		opts.Store = "bolt"
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	d = &Daemon{opts: opts, log: opts.Logger.With("node-id", opts.NodeID), httpErr: make(chan error, 1)}
	opened := d // the returns below set d to nil on error
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = opened.closeAll(ctx)
		}
	}()
	factory, err := fsm.Lookup(opts.FSM)
	if err != nil {
		return nil, err
	}
	if d.fsm, err = factory(opts.FSMOptions); err != nil {
		return nil, fmt.Errorf("daemon: build the %q FSM: %w", opts.FSM, err)
	}
	if err := d.openStores(); err != nil {
		return nil, err
	}
	if d.trans, err = tcp.New(tcp.Config{
		ID: wire.NodeID(opts.NodeID), ClusterID: opts.ClusterID,
		BindAddr: opts.RaftBind, AdvertiseAddr: opts.RaftAdvertise, TLS: opts.RaftTLS,
		Logger: opts.Logger.Named("transport"),
	}); err != nil {
		return nil, fmt.Errorf("daemon: start the raft transport on %s: %w", opts.RaftBind, err)
	}
	for _, p := range opts.Peers {
		if string(p.ID) != opts.NodeID {
			d.trans.SetPeer(p.ID, p.Address)
		}
	}
	if d.node, err = raft.NewNode(raft.Config{
		ID:                wire.NodeID(opts.NodeID),
		HeartbeatTimeout:  opts.HeartbeatTimeout,
		ElectionTimeout:   opts.ElectionTimeout,
		SnapshotThreshold: opts.SnapshotThreshold,
		SnapshotInterval:  opts.SnapshotInterval,
		TrailingLogs:      opts.TrailingLogs,
		Logger:            opts.Logger,
	}, d.fsm, d.store, d.snaps, d.trans); err != nil {
		return nil, fmt.Errorf("daemon: start the raft node: %w", err)
	}
	d.replica = NewRaftReplica(d.node)
	if opts.Bootstrap {
		err := d.node.Bootstrap(wire.Configuration{Servers: opts.Peers})
		switch {
		case errors.Is(err, raft.ErrAlreadyBootstrapped):
			d.log.Info("node has state already; bootstrap skipped")
		case err != nil:
			return nil, fmt.Errorf("daemon: bootstrap: %w", err)
		}
	}
	d.warnIfUnreachable()
	if opts.HTTPBind != "" {
		if err := d.startHTTP(); err != nil {
			return nil, err
		}
	}
	if len(opts.Join) > 0 {
		if err := d.join(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (o Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.NodeID == "" {
		bad("node id is empty")
	}
	if o.RaftBind == "" {
		bad("raft bind address is empty")
	}
	switch o.Store {
	case ondisk.Bolt, ondisk.WAL:
		if o.DataDir == "" {
			bad("the %s store needs a data directory", o.Store)
		}
	case "memory":
	default:
		bad("store %q is not bolt, wal or memory", o.Store)
	}
	if o.Bootstrap {
		found := false
		for _, p := range o.Peers {
			found = found || string(p.ID) == o.NodeID
		}
		if !found {
			bad("bootstrap needs this node (%q) among the peers", o.NodeID)
		}
		if err := (wire.Configuration{Servers: o.Peers}).Validate(); err != nil {
			bad("peers: %v", err)
		}
	}
	return errors.Join(errs...)
}

func (d *Daemon) openStores() error {
	if d.opts.Store == "memory" {
		d.store, d.snaps = logmem.New(), snapmem.New(d.opts.SnapshotRetain)
		return nil
	}
	if err := makeDurableDir(d.opts.DataDir); err != nil {
		return fmt.Errorf("daemon: create data directory: %w", err)
	}
	if err := checkClusterID(d.opts.DataDir, d.opts.ClusterID); err != nil {
		return err
	}
	// The stores make their files durable in their own directories; the
	// names of those directories are the daemon's to make durable.
	for _, sub := range []string{"raft", "snapshots"} {
		if err := makeDurableDir(filepath.Join(d.opts.DataDir, sub)); err != nil {
			return fmt.Errorf("daemon: create data directory: %w", err)
		}
	}
	var err error
	if d.store, err = ondisk.Open(filepath.Join(d.opts.DataDir, "raft"), d.opts.Store, ondisk.Options{
		Logger: d.opts.Logger.Named("logstore"), UnsafeNoSync: d.opts.UnsafeNoSync,
	}); err != nil {
		return fmt.Errorf("daemon: open the raft log: %w", err)
	}
	fs, err := snapfile.Open(filepath.Join(d.opts.DataDir, "snapshots"), snapfile.Options{
		Retain: d.opts.SnapshotRetain, Logger: d.opts.Logger.Named("snapshots"),
	})
	if err != nil {
		return fmt.Errorf("daemon: open the snapshot store: %w", err)
	}
	d.snaps = fs
	return nil
}

// service returns the HTTP routes of the node's FSM: the ledger's and the
// lock's own, the generic /v1/fsm routes for any other FSM.
func (d *Daemon) service() Service {
	applied := func() uint64 { return d.replica.Status().Applied }
	switch f := d.fsm.(type) {
	case *ledger.Ledger:
		return NewLedgerService(f, applied)
	case *lock.Lock:
		return NewLockService(f)
	}
	return NewFSMService(d.opts.FSM, d.fsm)
}

func (d *Daemon) startHTTP() error {
	srv, err := NewServer(ServerConfig{
		Replica: d.replica, Service: d.service(), FSMName: d.opts.FSM, Version: d.opts.Version,
		Registry: prometheus.NewRegistry(), Logger: d.opts.Logger.Named("http"),
		DisableMetrics: d.opts.DisableMetrics,
	})
	if err != nil {
		return err
	}
	d.server = srv
	ln, err := net.Listen("tcp", d.opts.HTTPBind)
	if err != nil {
		return fmt.Errorf("daemon: listen for HTTP on %s: %w", d.opts.HTTPBind, err)
	}
	d.httpLn = ln
	d.httpSrv = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          d.opts.Logger.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	go func(srv *http.Server) { d.httpErr <- srv.Serve(ln) }(d.httpSrv)
	d.log.Info("HTTP API listening", "address", ln.Addr().String())
	return nil
}

// HTTPAddr returns the address the API listens on ("" without one).
func (d *Daemon) HTTPAddr() string {
	if d.httpLn == nil {
		return ""
	}
	return d.httpLn.Addr().String()
}

// RaftAddr returns the address the Raft transport listens on.
func (d *Daemon) RaftAddr() string { return d.trans.Addr() }

// Node returns the node's Raft runtime.
func (d *Daemon) Node() *raft.Node { return d.node }

// FSM returns the node's state machine.
func (d *Daemon) FSM() fsm.FSM { return d.fsm }

// Run blocks until ctx ends, the Raft node stops by itself (a fatal
// error) or the HTTP server fails, then shuts the daemon down and returns
// the reason (nil when ctx ended).
func (d *Daemon) Run(ctx context.Context) error {
	var cause error
	select {
	case <-ctx.Done():
		d.log.Info("shutting down")
	case <-d.node.Done():
		cause = fmt.Errorf("daemon: the raft node stopped: %w", d.node.Err())
	case err := <-d.httpErr:
		cause = fmt.Errorf("daemon: HTTP server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil && cause == nil {
		cause = err
	}
	return cause
}

// Shutdown stops the HTTP API (letting requests in flight finish until
// ctx ends), the Raft node, the transport and the stores.
func (d *Daemon) Shutdown(ctx context.Context) error { return d.closeAll(ctx) }

func (d *Daemon) closeAll(ctx context.Context) error {
	var errs []error
	// The HTTP server stops accepting at once and gets a short grace for
	// requests in flight; one still waiting after it (a write without a
	// quorum) is answered when the node's shutdown ends its wait.
	var httpDone chan error
	if d.httpSrv != nil {
		httpDone = make(chan error, 1)
		go func(srv *http.Server) { httpDone <- srv.Shutdown(ctx) }(d.httpSrv)
		d.httpSrv = nil
		select {
		case err := <-httpDone:
			httpDone <- err
		case <-time.After(httpGrace):
		}
	}
	if d.node != nil {
		if err := d.node.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
	}
	if httpDone != nil {
		if err := <-httpDone; err != nil {
			errs = append(errs, fmt.Errorf("HTTP shutdown: %w", err))
		}
	}
	if d.replica != nil {
		d.replica.Close()
		d.replica = nil
	}
	if d.trans != nil {
		if err := d.trans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("transport close: %w", err))
		}
		d.trans = nil
	}
	if d.store != nil {
		if err := d.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("log store close: %w", err))
		}
		d.store = nil
	}
	return errors.Join(errs...)
}

// join asks the nodes in Options.Join to add this one as a voter, unless
// it already has Raft state (a restart).
func (d *Daemon) join() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := d.node.Stats(ctx)
	if err != nil {
		return fmt.Errorf("daemon: join: %w", err)
	}
	if st.LastIndex > 0 {
		d.log.Info("node has state already; join skipped")
		return nil
	}
	// The transport's address is the advertised one, with a port chosen
	// at run time resolved.
	return joinCluster(d.node, d.opts.Join, d.opts.NodeID, d.trans.Addr(), d.log)
}

// httpGrace is how long a shutdown waits for HTTP requests in flight
// before it stops the Raft node under them.
const httpGrace = 2 * time.Second

// ErrWrongCluster means the data directory belongs to another cluster.
var ErrWrongCluster = errors.New("daemon: data directory belongs to another cluster")

// clusterIDFile names the file in the data directory that records which
// cluster the data belongs to, so that a node pointed at another cluster's
// data (a copied directory, a reused path) refuses to start instead of
// mixing two clusters' logs.
const clusterIDFile = "CLUSTER_ID"

func checkClusterID(dir, id string) error {
	path := filepath.Join(dir, clusterIDFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if got := strings.TrimSpace(string(data)); got != id {
			return fmt.Errorf("%w: %s says %q, the configuration says %q", ErrWrongCluster, path, got, id)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("daemon: read %s: %w", path, err)
	}
	// First start: record the cluster, durably, before any Raft state.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("daemon: record the cluster id: %w", err)
	}
	if _, err = f.WriteString(id + "\n"); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("daemon: record the cluster id in %s: %w", path, err)
	}
	return nil
}

// makeDurableDir creates dir and its missing parents, and syncs the
// parent of each directory it creates: a new directory's name is durable
// only once its parent is synced, and a power failure that lost the data
// directory would take the node's votes and acknowledged entries with it.
func makeDurableDir(dir string) error { return durable.MkdirAll(dir, syncDir) }

// syncDir makes the entries of dir durable: the files and directories
// created, renamed and removed in it. A variable so that tests can see
// when it runs.
var syncDir = syncDirOS

func syncDirOS(dir string) error { return durable.SyncDir(dir) }

// warnIfUnreachable warns about a new node that knows no other server:
// it cannot answer a leader that adds it (its transport has nowhere to
// send the replies), so `mandate cluster add` would time out. It needs
// raft.peers (the current members), raft.join or raft.bootstrap.
func (d *Daemon) warnIfUnreachable() {
	if d.opts.Bootstrap || len(d.opts.Join) > 0 || len(d.opts.Peers) > 0 {
		return
	}
	last, err := d.store.LastIndex()
	if err != nil || last > 0 {
		return
	}
	if metas, err := d.snaps.List(); err != nil || len(metas) > 0 {
		return
	}
	d.log.Warn("this node has no state and knows no other server: list the cluster's members in raft.peers (without raft.bootstrap) or set raft.join, or it cannot answer the leader that adds it")
}
