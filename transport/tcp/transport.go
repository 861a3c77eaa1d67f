package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/transport/internal/unreachable"
	"github.com/mandate-raft/mandate/wire"
)

// Transport is the TCP transport.Transport. Create it with New; it listens
// at once (so Addr is known) and serves peers once Start is called.
type Transport struct {
	cfg     Config
	log     hclog.Logger
	ln      net.Listener
	addr    string
	limiter *limiter
	snaps   *snapReceiver
	stats   counters

	mu      sync.Mutex
	handler transport.Handler
	closed  bool
	addrs   map[wire.NodeID]string
	peers   map[wire.NodeID]*peer
	inbound map[net.Conn]struct{}
	// unreachable coalesces and delivers ReportUnreachable calls.
	unreachable *unreachable.Reporter

	inboundSem chan struct{}
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// peer is the outbound side towards one node: one connection per lane.
type peer struct {
	control, bulk *outLane
}

// New validates cfg, fills in its defaults and listens on cfg.BindAddr.
func New(cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("tcp: listen on %s: %w", cfg.BindAddr, err)
	}
	addr := cfg.AdvertiseAddr
	if addr == "" {
		addr = ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:         cfg,
		log:         cfg.Logger,
		ln:          ln,
		addr:        addr,
		limiter:     newLimiter(cfg.SnapshotBandwidth),
		addrs:       map[wire.NodeID]string{},
		peers:       map[wire.NodeID]*peer{},
		inbound:     map[net.Conn]struct{}{},
		unreachable: unreachable.New(64),
		inboundSem:  make(chan struct{}, cfg.MaxInboundConns),
		ctx:         ctx,
		cancel:      cancel,
	}
	t.snaps = newSnapReceiver(t)
	return t, nil
}

// Start begins accepting connections and delivering what they carry to h.
func (t *Transport) Start(h transport.Handler) error {
	if h == nil {
		return errors.New("tcp: nil handler")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return transport.ErrClosed
	}
	if t.handler != nil {
		return errors.New("tcp: already started")
	}
	t.handler = h
	t.wg.Add(2)
	go t.acceptLoop()
	go t.reportLoop(h)
	t.log.Info("transport started", "node-id", t.cfg.ID, "addr", t.addr, "tls", t.cfg.TLS != nil)
	return nil
}

// Addr returns the address peers reach this node at.
func (t *Transport) Addr() string { return t.addr }

// SetPeer records the address of id. A changed address closes the
// connections to the old one.
func (t *Transport) SetPeer(id wire.NodeID, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.addrs[id]; ok && old == addr {
		return
	}
	t.addrs[id] = addr
	if p := t.peers[id]; p != nil {
		delete(t.peers, id)
		p.stop()
	}
}

// peerHeard ends the dial backoff towards id, which has just connected to
// this node and so is up: a forming cluster, or a peer back from a
// restart, would otherwise wait out a backoff of up to BackoffMax for the
// answers it needs.
func (t *Transport) peerHeard(id wire.NodeID) {
	t.mu.Lock()
	p := t.peers[id]
	t.mu.Unlock()
	if p != nil {
		p.control.heard.Store(true)
		p.bulk.heard.Store(true)
	}
}

// RemovePeer forgets id and closes the connections to it.
func (t *Transport) RemovePeer(id wire.NodeID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.addrs, id)
	if p := t.peers[id]; p != nil {
		delete(t.peers, id)
		p.stop()
	}
}

func (p *peer) stop() {
	p.control.stop()
	p.bulk.stop()
}

// laneOf says which connection carries m: entries go on the bulk lane,
// everything else on the control lane, so that no vote or heartbeat
// waits behind a large append.
func laneOf(m *wire.Message) lane {
	if m.Type == wire.MsgApp || m.Type == wire.MsgProp {
		return laneBulk
	}
	return laneControl
}

// Send queues m for m.To without blocking. Messages on the same lane (all
// appends and proposals; all other messages) arrive in the order sent.
func (t *Transport) Send(m wire.Message) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	addr, ok := t.addrs[m.To]
	if !ok {
		t.mu.Unlock()
		t.stats.dropped.Add(1)
		t.reportUnreachable(m.To)
		return
	}
	p := t.peers[m.To]
	if p == nil {
		p = &peer{
			control: t.newOutLane(m.To, addr, laneControl),
			bulk:    t.newOutLane(m.To, addr, laneBulk),
		}
		t.peers[m.To] = p
	}
	t.mu.Unlock()
	l := p.control
	if laneOf(&m) == laneBulk {
		l = p.bulk
	}
	l.enqueue(m)
}

// reportUnreachable queues ReportUnreachable(id) for the handler without
// blocking the caller (which may be the node's own event loop).
func (t *Transport) reportUnreachable(id wire.NodeID) {
	t.mu.Lock()
	ready := !t.closed && t.handler != nil
	t.mu.Unlock()
	if ready {
		t.unreachable.Report(id)
	}
}

func (t *Transport) reportLoop(h transport.Handler) {
	defer t.wg.Done()
	t.unreachable.Run(t.ctx, h.ReportUnreachable)
}

// dial opens a connection of the given lane to the node id at addr and
// completes the handshake.
func (t *Transport) dial(ctx context.Context, addr string, id wire.NodeID, l lane) (net.Conn, error) {
	if len(id) > maxIDLen {
		return nil, fmt.Errorf("tcp: peer id %q longer than %d bytes", id, maxIDLen)
	}
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tcp: dial %s at %s: %w", id, addr, err)
	}
	if err := conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		conn.Close()
		return nil, err
	}
	if t.cfg.TLS != nil {
		cfg := t.cfg.TLS.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tcp: tls handshake with %s at %s: %w", id, addr, err)
		}
		conn = tc
	}
	h := hello{Version: ProtocolVersion, Lane: l, Cluster: t.cfg.ClusterID, From: t.cfg.ID, To: id}
	if _, err := conn.Write(h.encode()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tcp: handshake with %s at %s: %w", id, addr, err)
	}
	if err := decodeVerdict(conn); err != nil {
		conn.Close()
		if errors.Is(err, ErrRefused) {
			t.log.Error("peer refused connection", "peer", id, "addr", addr, "error", err)
		}
		return nil, fmt.Errorf("tcp: handshake with %s at %s: %w", id, addr, err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Close stops listening, closes every connection, fails the snapshot
// streams in progress and returns once every goroutine has ended.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	peers := t.peers
	t.peers = map[wire.NodeID]*peer{}
	conns := t.inbound
	t.inbound = map[net.Conn]struct{}{}
	started := t.handler != nil
	t.mu.Unlock()

	t.cancel()
	err := t.ln.Close()
	for _, p := range peers {
		p.stop()
	}
	for c := range conns {
		c.Close()
	}
	t.snaps.closeAll()
	t.wg.Wait()
	if started {
		t.log.Info("transport closed", "node-id", t.cfg.ID)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("tcp: close listener: %w", err)
	}
	return nil
}

var _ transport.Transport = (*Transport)(nil)
