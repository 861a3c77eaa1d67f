//go:build unix

package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Link is one direction between two nodes: the connections From dials to
// To. Mandate's TCP transport sends each message on a connection dialed by
// its sender (answers travel on connections the other side dials), so
// blocking the connections of one Link silences exactly one direction.
type Link struct {
	From, To string
}

func (l Link) String() string { return l.From + "->" + l.To }

// Network is the test-owned Raft network between node processes. Every
// node advertises the address of a proxy in the test process instead of its
// own listener; the proxy reads the transport's handshake, which names the
// dialing node, so it knows which Link each connection belongs to and can
// cut it, or delay it, one direction at a time.
//
// The handshake layout (magic, version, lane, then cluster, sender and
// receiver ids, each prefixed by a length byte) is the transport's wire
// format, documented in transport/tcp; only plaintext (non-TLS) clusters
// can be shaped this way.
type Network struct {
	logf func(format string, args ...any)

	mu     sync.Mutex
	cut    map[Link]bool
	delay  map[Link]time.Duration
	conns  map[Link]map[*proxyConn]struct{}
	lns    []net.Listener
	closed bool
	wg     sync.WaitGroup
}

// newNetwork returns an empty network; logf receives one line per refused
// or failed connection (nil discards them).
func newNetwork(logf func(string, ...any)) *Network {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Network{
		logf:  logf,
		cut:   map[Link]bool{},
		delay: map[Link]time.Duration{},
		conns: map[Link]map[*proxyConn]struct{}{},
	}
}

// listen starts the proxy in front of node `to`, whose transport listens
// on target, and returns the proxy's address (what the cluster
// configuration names as the node's address).
func (n *Network) listen(to, target string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("e2e: proxy listener for %s: %w", to, err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		ln.Close()
		return "", errors.New("e2e: network closed")
	}
	n.lns = append(n.lns, ln)
	n.wg.Add(1)
	n.mu.Unlock()
	go n.accept(ln, to, target)
	return ln.Addr().String(), nil
}

// Cut stops traffic on each link: open connections are closed and new
// ones are refused right after their handshake, until Heal.
func (n *Network) Cut(links ...Link) {
	n.mu.Lock()
	var doomed []*proxyConn
	for _, l := range links {
		n.cut[l] = true
		for pc := range n.conns[l] {
			doomed = append(doomed, pc)
		}
	}
	n.mu.Unlock()
	for _, pc := range doomed {
		pc.close()
	}
}

// CutBoth cuts both directions between a and b.
func (n *Network) CutBoth(a, b string) { n.Cut(Link{a, b}, Link{b, a}) }

// Isolate cuts every link into and out of id, among the given nodes.
func (n *Network) Isolate(id string, all []string) {
	for _, o := range all {
		if o != id {
			n.CutBoth(id, o)
		}
	}
}

// Heal lets traffic through the given links again (dialers reconnect by
// themselves, after their back-off).
func (n *Network) Heal(links ...Link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range links {
		delete(n.cut, l)
	}
}

// HealAll removes every cut and every delay.
func (n *Network) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = map[Link]bool{}
	n.delay = map[Link]time.Duration{}
}

// Delay holds every byte sent over l for d before passing it on (0 ends the
// delay for bytes read from then on). Order is kept.
func (n *Network) Delay(l Link, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if d <= 0 {
		delete(n.delay, l)
		return
	}
	n.delay[l] = d
}

func (n *Network) delayOf(l Link) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.delay[l]
}

// Close stops every proxy and closes every connection through them, then
// waits for the proxies' goroutines.
func (n *Network) Close() {
	n.mu.Lock()
	n.closed = true
	lns := n.lns
	var all []*proxyConn
	for _, set := range n.conns {
		for pc := range set {
			all = append(all, pc)
		}
	}
	n.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, pc := range all {
		pc.close()
	}
	n.wg.Wait()
}

func (n *Network) accept(ln net.Listener, to, target string) {
	defer n.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			c.Close()
			return
		}
		n.wg.Add(1)
		n.mu.Unlock()
		go n.serve(c, to, target)
	}
}

// proxyConn is one proxied connection: the dialer's side and ours to the
// target.
type proxyConn struct {
	down net.Conn

	mu     sync.Mutex
	up     net.Conn // nil until dialed
	closed bool
}

// setUp records the connection to the target; it reports false (and
// closes up) when the proxied connection was closed meanwhile.
func (pc *proxyConn) setUp(up net.Conn) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		up.Close()
		return false
	}
	pc.up = up
	return true
}

func (pc *proxyConn) close() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		return
	}
	pc.closed = true
	pc.down.Close()
	if pc.up != nil {
		pc.up.Close()
	}
}

// serve reads the dialer's handshake to learn its Link, then relays bytes
// both ways unless the link is cut.
func (n *Network) serve(down net.Conn, to, target string) {
	defer n.wg.Done()
	_ = down.SetReadDeadline(time.Now().Add(5 * time.Second))
	hello, from, err := readHello(down)
	if err != nil {
		n.logf("proxy to %s: dropping a connection with an unreadable handshake: %v", to, err)
		down.Close()
		return
	}
	_ = down.SetReadDeadline(time.Time{})
	l := Link{From: from, To: to}
	pc := &proxyConn{down: down}
	n.mu.Lock()
	if n.closed || n.cut[l] {
		n.mu.Unlock()
		down.Close()
		return
	}
	if n.conns[l] == nil {
		n.conns[l] = map[*proxyConn]struct{}{}
	}
	n.conns[l][pc] = struct{}{}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.conns[l], pc)
		n.mu.Unlock()
		pc.close()
	}()

	up, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		return // the node is down: the dialer sees its connection close
	}
	// A Cut or Close since the handshake closed pc, so setUp refuses.
	if !pc.setUp(up) {
		return
	}
	if _, err := up.Write(hello); err != nil {
		return
	}
	back := make(chan struct{})
	go func() {
		defer close(back)
		_, _ = io.Copy(down, up)
		pc.close()
	}()
	n.forward(l, down, up)
	pc.close()
	<-back
}

// chunk is a piece of the byte stream and when it may be passed on.
type chunk struct {
	data []byte
	due  time.Time
}

// forward copies src to dst, holding each read for the link's current
// delay.
func (n *Network) forward(l Link, src, dst net.Conn) {
	q := make(chan chunk, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if w := time.Until(c.due); w > 0 {
				time.Sleep(w)
			}
			if _, err := dst.Write(c.data); err != nil {
				// Drain so the reader never blocks on a dead writer.
				for range q {
				}
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			q <- chunk{data: append([]byte(nil), buf[:k]...), due: time.Now().Add(n.delayOf(l))}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
}

// readHello reads the transport's handshake from c and returns its raw
// bytes (to replay to the target) and the sender's node id.
func readHello(c io.Reader) (raw []byte, from string, err error) {
	fixed := make([]byte, 7) // magic(4) version(2) lane(1)
	if _, err := io.ReadFull(c, fixed); err != nil {
		return nil, "", err
	}
	if string(fixed[:4]) != "MNDT" {
		return nil, "", fmt.Errorf("bad magic %q", fixed[:4])
	}
	_ = binary.BigEndian.Uint16(fixed[4:6]) // the version is the target's business
	raw = fixed
	var ids [3]string // cluster, sender, receiver
	for i := range ids {
		var ln [1]byte
		if _, err := io.ReadFull(c, ln[:]); err != nil {
			return nil, "", err
		}
		s := make([]byte, ln[0])
		if _, err := io.ReadFull(c, s); err != nil {
			return nil, "", err
		}
		raw = append(append(raw, ln[0]), s...)
		ids[i] = string(s)
	}
	if ids[1] == "" {
		return nil, "", errors.New("empty sender id")
	}
	return raw, ids[1], nil
}
