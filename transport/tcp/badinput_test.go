package tcp

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// syncBuffer is a log sink safe for the transport's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLog waits until the log holds want.
func waitLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q; it holds:\n%s", want, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func loggedConfig(t *testing.T, id wire.NodeID) (Config, *syncBuffer) {
	cfg := testConfig(t, id)
	logs := &syncBuffer{}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Level: hclog.Debug, Output: logs})
	return cfg, logs
}

// rawPeer opens a socket to addr and, if h is not nil, completes the
// handshake with it.
func rawPeer(t *testing.T, addr string, h *hello) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if h != nil {
		if _, err := c.Write(h.encode()); err != nil {
			t.Fatal(err)
		}
		if err := decodeVerdict(c); err != nil {
			t.Fatalf("handshake refused: %v", err)
		}
	}
	return c
}

// closedByPeer reports whether the transport closed c: a read ends with
// EOF or a reset rather than a timeout.
func closedByPeer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the transport kept a connection open after bad input")
	}
}

// Each kind of bad input closes the connection that carried it, with a
// logged reason, and a legitimate peer keeps exchanging messages with the
// node throughout.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	cfgB, logs := loggedConfig(t, "b")
	cfgB.MaxFrameSize = 2 << 20
	cfgB.HandshakeTimeout = 300 * time.Millisecond
	b, rb := started(t, cfgB)
	a, ra := started(t, testConfig(t, "a"))
	a.SetPeer("b", b.Addr())
	b.SetPeer("a", a.Addr())

	exchange := func(i uint64) {
		t.Helper()
		a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: i})
		if got := rb.NextMsg(t); got.Term != i {
			t.Fatalf("b got %v, want heartbeat of term %d", got, i)
		}
		b.Send(wire.Message{Type: wire.MsgHeartbeatResp, From: "b", To: "a", Term: i})
		if got := ra.NextMsg(t); got.Term != i {
			t.Fatalf("a got %v, want answer of term %d", got, i)
		}
	}
	exchange(1)

	good := &hello{Version: ProtocolVersion, Lane: laneControl, Cluster: "test-cluster", From: "mallory", To: "b"}
	spoofed := framed(encodeForTest(t, wire.Message{Type: wire.MsgVote, From: "a", To: "b", Term: 99}))
	hostile := hostileFrames(t)
	hostile["spoofed-sender"] = spoofed
	hostile["amplification-bomb"] = framed(amplificationBomb(maxArrayElements + 1))
	hostile["other-recipient"] = framed(encodeForTest(t, wire.Message{Type: wire.MsgVote, From: "mallory", To: "z", Term: 99}))
	term := uint64(2)
	for name, in := range hostile {
		t.Run(name, func(t *testing.T) {
			c := rawPeer(t, b.Addr(), good)
			c.Write(in)
			if name == "truncated" || name == "oversized" {
				// The frame is incomplete until the peer hangs up.
				c.(*net.TCPConn).CloseWrite()
			}
			closedByPeer(t, c)
			exchange(term)
			term++
		})
	}
	waitLog(t, logs, "frame too large")
	waitLog(t, logs, "local-only type")
	waitLog(t, logs, "unknown type")
	waitLog(t, logs, "on a connection of")
	waitLog(t, logs, "nested deeper than")
	waitLog(t, logs, "array elements")
	if n := b.Stats().ConnectionsRejected; n < uint64(len(hostile)) {
		t.Fatalf("stats count %d rejected connections, want at least %d", n, len(hostile))
	}
	if n := strings.Count(logs.String(), "closing connection"); n < len(hostile) {
		t.Fatalf("%d connections closed with a logged reason, want %d:\n%s", n, len(hostile), logs)
	}

	t.Run("garbage-before-handshake", func(t *testing.T) {
		c := rawPeer(t, b.Addr(), nil)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: b\r\n\r\n"))
		closedByPeer(t, c)
		waitLog(t, logs, "bad magic")
		exchange(100)
	})
	t.Run("silent-connection", func(t *testing.T) {
		c := rawPeer(t, b.Addr(), nil)
		closedByPeer(t, c) // closed once HandshakeTimeout passes
		exchange(101)
	})
	t.Run("unknown-version", func(t *testing.T) {
		c := rawPeer(t, b.Addr(), nil)
		h := *good
		h.Version = 7
		c.Write(h.encode())
		if err := decodeVerdict(c); err == nil || !strings.Contains(err.Error(), "unsupported protocol version 7") {
			t.Fatalf("verdict %v, want a refusal naming the version", err)
		}
		waitLog(t, logs, "refusing peer speaking another protocol version")
		exchange(102)
	})
	t.Run("other-cluster", func(t *testing.T) {
		c := rawPeer(t, b.Addr(), nil)
		h := *good
		h.Cluster = "someone-else"
		c.Write(h.encode())
		if err := decodeVerdict(c); err == nil || !strings.Contains(err.Error(), "someone-else") {
			t.Fatalf("verdict %v, want a refusal naming the cluster", err)
		}
		waitLog(t, logs, "refusing peer from another cluster")
		exchange(103)
	})
	t.Run("garbage-on-snapshot-lane", func(t *testing.T) {
		h := *good
		h.Lane = laneSnapshot
		c := rawPeer(t, b.Addr(), &h)
		c.Write(framed([]byte{snapChunk, 1, 2, 3}))
		closedByPeer(t, c)
		exchange(104)
	})
}

func TestPeerOfAnotherClusterIsRefusedAndReported(t *testing.T) {
	cfgB, logsB := loggedConfig(t, "b")
	b, rb := started(t, cfgB)
	cfgA, logsA := loggedConfig(t, "a")
	cfgA.ClusterID = "other-cluster"
	a, ra := started(t, cfgA)
	a.SetPeer("b", b.Addr())
	ra.WaitUnreachable(t, "b", func() { a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1}) })
	waitLog(t, logsB, "refusing peer from another cluster")
	waitLog(t, logsA, "peer refused connection")
	select {
	case m := <-rb.Msgs:
		t.Fatalf("b accepted %v from another cluster", m)
	default:
	}
}

func TestDialingTheWrongNodeIsRefused(t *testing.T) {
	b, _ := started(t, testConfig(t, "b"))
	a, ra := started(t, testConfig(t, "a"))
	a.SetPeer("c", b.Addr()) // c's address now belongs to b
	ra.WaitUnreachable(t, "c", func() { a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "c", Term: 1}) })
}

func TestInboundConnectionLimit(t *testing.T) {
	cfgB, logs := loggedConfig(t, "b")
	cfgB.MaxInboundConns = 2
	b, rb := started(t, cfgB)
	h := &hello{Version: ProtocolVersion, Lane: laneControl, Cluster: "test-cluster", From: "x", To: "b"}
	c1, c2 := rawPeer(t, b.Addr(), h), rawPeer(t, b.Addr(), h)
	c3 := rawPeer(t, b.Addr(), nil)
	closedByPeer(t, c3)
	waitLog(t, logs, "too many inbound connections")

	// Once the hogs leave, a real peer gets in.
	c1.Close()
	c2.Close()
	a, _ := started(t, testConfig(t, "a"))
	a.SetPeer("b", b.Addr())
	deadline := time.After(10 * time.Second)
	for {
		a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 5})
		select {
		case m := <-rb.Msgs:
			if m.Term != 5 {
				t.Fatalf("got %v", m)
			}
			return
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("a real peer never got in after the hogs left")
		}
	}
}

// A sender closes a connection it has not used for half the read timeout
// and dials again on its next message.
func TestIdleConnectionIsReplaced(t *testing.T) {
	cfgB, logs := loggedConfig(t, "b")
	cfgB.ReadTimeout = 200 * time.Millisecond
	b, rb := started(t, cfgB)
	cfgA := testConfig(t, "a")
	cfgA.ReadTimeout = 200 * time.Millisecond
	a, _ := started(t, cfgA)
	a.SetPeer("b", b.Addr())
	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1})
	rb.NextMsg(t)
	waitLog(t, logs, "peer closed connection")
	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 2})
	if got := rb.NextMsg(t); got.Term != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestOversizedOutgoingMessageIsDroppedNotFatal(t *testing.T) {
	cfgA, logs := loggedConfig(t, "a")
	cfgA.MaxFrameSize = 2 << 20
	cfgA.SnapshotChunkSize = 1 << 20
	a, _ := started(t, cfgA)
	b, rb := started(t, testConfig(t, "b"))
	a.SetPeer("b", b.Addr())
	a.Send(wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 1, Entries: []wire.Entry{{Index: 1, Term: 1, Data: make([]byte, 3<<20)}}})
	a.Send(wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 2, Entries: []wire.Entry{{Index: 1, Term: 1, Data: []byte("ok")}}})
	if got := rb.NextMsg(t); got.Term != 2 {
		t.Fatalf("got %v, want the second append", got)
	}
	waitLog(t, logs, "message larger than the frame limit")
	if s := a.Stats(); s.MessagesDropped != 1 || s.MessagesSent != 1 {
		t.Fatalf("stats %+v: want one message sent and one dropped", s)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no id":        {ClusterID: "c", BindAddr: "127.0.0.1:0"},
		"no cluster":   {ID: "a", BindAddr: "127.0.0.1:0"},
		"no bind":      {ID: "a", ClusterID: "c"},
		"tiny frames":  {ID: "a", ClusterID: "c", BindAddr: "127.0.0.1:0", MaxFrameSize: 1000},
		"long id":      {ID: wire.NodeID(strings.Repeat("x", 300)), ClusterID: "c", BindAddr: "127.0.0.1:0"},
		"backoff":      {ID: "a", ClusterID: "c", BindAddr: "127.0.0.1:0", BackoffMin: time.Second, BackoffMax: time.Millisecond},
		"negative bps": {ID: "a", ClusterID: "c", BindAddr: "127.0.0.1:0", SnapshotBandwidth: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestBackoffDoublesWithinBounds(t *testing.T) {
	var got []time.Duration
	d := time.Duration(0)
	for i := 0; i < 6; i++ {
		d = nextBackoff(d, 10*time.Millisecond, 50*time.Millisecond)
		got = append(got, d)
	}
	want := []time.Duration{10, 20, 40, 50, 50, 50}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("backoff sequence %v, want %v ms", got, want)
		}
	}
}

// A node that restarts at the same address is reached again.
func TestReconnectsAfterPeerRestart(t *testing.T) {
	b, _ := started(t, testConfig(t, "b"))
	a, ra := started(t, testConfig(t, "a"))
	addr := b.Addr()
	a.SetPeer("b", addr)
	b.Close()
	ra.WaitUnreachable(t, "b", func() { a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1}) })
	cfg := testConfig(t, "b")
	cfg.BindAddr = addr
	b2, rb2 := started(t, cfg)
	_ = b2
	deadline := time.After(10 * time.Second)
	for {
		a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 2})
		select {
		case <-rb2.Msgs:
			return
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("never reconnected to the restarted peer")
		}
	}
}

var _ = transporttest.A

func TestMessageNotFromThisNodeIsDroppedBeforeSending(t *testing.T) {
	cfgA, logs := loggedConfig(t, "a")
	a, _ := started(t, cfgA)
	b, rb := started(t, testConfig(t, "b"))
	a.SetPeer("b", b.Addr())
	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "someone", To: "b", Term: 1})
	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 2})
	if got := rb.NextMsg(t); got.Term != 2 || got.From != "a" {
		t.Fatalf("got %v, want only a's own heartbeat", got)
	}
	waitLog(t, logs, "message not from this node")
}
