package tcp

import (
	"crypto/tls"
	"net"
	"syscall"
	"time"
)

// peekAfterIdle is how long a lane must have written nothing before it
// peeks at its socket ahead of the next write. A peer cannot die and come
// back on its address in less; while messages flow, a peer that died is
// seen by the failing write instead, whose batch is sent again, so the
// busy path pays no system call.
const peekAfterIdle = time.Millisecond

// connWatch tells a message lane that its connection has died under it.
// The peer of a message lane never writes after the handshake, so the
// connection being readable at all (EOF when the peer closed or was
// killed, a reset, stray bytes) means it is no longer usable. Without the
// watch, the first message written to a peer that restarted would land in
// the kernel's buffer and vanish when the peer answered with a reset.
type connWatch struct {
	// gone is closed when a read on the connection returned: the peer
	// closed it, reset it, broke the protocol, or this side closed it.
	gone chan struct{}
	// raw is the TCP socket under any TLS layer, for a synchronous check
	// just before a write (nil where unavailable).
	raw syscall.RawConn
}

// watchConn starts the goroutine that reads conn until it fails; it ends
// once conn is closed, which the lane always does.
func (t *Transport) watchConn(conn net.Conn) *connWatch {
	w := &connWatch{gone: make(chan struct{})}
	under := conn
	if tc, ok := conn.(*tls.Conn); ok {
		under = tc.NetConn()
	}
	if sc, ok := under.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.raw = rc
		}
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(w.gone)
		// Reading through a TLS connection also consumes what the TLS
		// layer sends after its handshake (session tickets): nothing of it
		// reaches us as data.
		var buf [1]byte
		_, _ = conn.Read(buf[:])
	}()
	return w
}

// dead reports whether the connection is known unusable: the watching
// read returned or, if peek is set, the socket already holds the peer's
// FIN or reset (the watching goroutine may not have run yet when a peer
// was closed an instant ago).
func (w *connWatch) dead(peek bool) bool {
	select {
	case <-w.gone:
		return true
	default:
	}
	return peek && w.raw != nil && peerClosed(w.raw)
}
