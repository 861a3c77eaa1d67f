package tcp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

const readBufSize = 64 << 10

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little rather
			// than spin.
			delay = nextBackoff(delay, 5*time.Millisecond, time.Second)
			t.log.Warn("accept failed", "error", err, "retry-in", delay)
			select {
			case <-time.After(delay):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		select {
		case t.inboundSem <- struct{}{}:
		default:
			t.log.Warn("too many inbound connections, refusing one", "remote-addr", conn.RemoteAddr(), "limit", t.cfg.MaxInboundConns)
			t.stats.rejected.Add(1)
			conn.Close()
			continue
		}
		if !t.track(conn) {
			<-t.inboundSem
			conn.Close()
			return
		}
		t.wg.Add(1)
		go t.serve(conn)
	}
}

// track records an inbound connection so that Close can close it; it
// reports false once the transport is closed.
func (t *Transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.inbound[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.inbound, c)
	t.mu.Unlock()
}

// serve runs one inbound connection: TLS, handshake, then the lane.
func (t *Transport) serve(raw net.Conn) {
	defer t.wg.Done()
	defer func() { <-t.inboundSem }()
	defer t.untrack(raw)
	defer raw.Close()
	remote := raw.RemoteAddr().String()
	// Every return before the lane runs rejects the connection.
	accepted := false
	defer func() {
		if !accepted {
			t.stats.rejected.Add(1)
		}
	}()

	conn := raw
	if err := conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return
	}
	if t.cfg.TLS != nil {
		tc := tls.Server(raw, t.cfg.TLS)
		ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			t.log.Warn("tls handshake failed, closing connection", "remote-addr", remote, "error", err)
			return
		}
		conn = tc
	}
	br := bufio.NewReaderSize(conn, readBufSize)
	h, err := decodeHello(br)
	if err != nil {
		if errors.Is(err, errVersion) {
			t.log.Error("refusing peer speaking another protocol version", "remote-addr", remote, "peer", h.From, "version", h.Version, "want-version", ProtocolVersion)
			_, _ = conn.Write(encodeVerdict(fmt.Sprintf("unsupported protocol version %d, this node speaks %d", h.Version, ProtocolVersion)))
			return
		}
		t.log.Warn("bad handshake, closing connection", "remote-addr", remote, "error", err)
		return
	}
	if h.Cluster != t.cfg.ClusterID {
		t.log.Error("refusing peer from another cluster", "remote-addr", remote, "peer", h.From, "peer-cluster", h.Cluster, "cluster", t.cfg.ClusterID)
		_, _ = conn.Write(encodeVerdict(fmt.Sprintf("cluster %q is not this node's cluster %q", h.Cluster, t.cfg.ClusterID)))
		return
	}
	if h.To != wire.None && h.To != t.cfg.ID {
		t.log.Error("refusing peer that dialed another node", "remote-addr", remote, "peer", h.From, "wanted", h.To, "node-id", t.cfg.ID)
		_, _ = conn.Write(encodeVerdict(fmt.Sprintf("this is node %q, not %q", t.cfg.ID, h.To)))
		return
	}
	if _, err := conn.Write(encodeVerdict("")); err != nil {
		return
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return
	}
	accepted = true
	t.peerHeard(h.From)
	log := t.log.With("peer", h.From, "remote-addr", remote, "lane", h.Lane)
	switch h.Lane {
	case laneSnapshot:
		err = t.snaps.serve(conn, br, h.From)
	default:
		err = t.readMessages(conn, br, h.From)
	}
	switch {
	case err == nil, t.ctx.Err() != nil:
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		log.Debug("peer closed connection")
	default:
		t.stats.rejected.Add(1)
		log.Warn("closing connection", "reason", err)
	}
}

// readMessages delivers the messages of one message lane until the
// connection fails or carries something unacceptable.
func (t *Transport) readMessages(conn net.Conn, br *bufio.Reader, from wire.NodeID) error {
	t.mu.Lock()
	h := t.handler
	t.mu.Unlock()
	fr := frameReader{r: br, max: t.cfg.MaxFrameSize}
	dec := newMsgDecoder()
	// Refreshing the deadline costs a timer update; doing it once per
	// quarter timeout rather than per frame keeps it off the hot path.
	var deadlineSet time.Time
	for {
		if now := time.Now(); now.Sub(deadlineSet) > t.cfg.ReadTimeout/4 {
			if err := conn.SetReadDeadline(now.Add(t.cfg.ReadTimeout)); err != nil {
				return err
			}
			deadlineSet = now
		}
		payload, err := fr.next()
		if err != nil {
			return err
		}
		m, err := dec.decode(payload)
		if err != nil {
			return err
		}
		if m.From != from {
			return fmt.Errorf("%w: message from %q on a connection of %q", ErrBadMessage, m.From, from)
		}
		if m.To != t.cfg.ID {
			return fmt.Errorf("%w: message for %q reached %q", ErrBadMessage, m.To, t.cfg.ID)
		}
		h.HandleMessage(m)
		t.stats.received.Add(1)
	}
}
