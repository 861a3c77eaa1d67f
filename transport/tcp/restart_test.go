package tcp

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// A peer that restarts on the same address (its process killed and run
// again) gets every message sent after it is back, the first one
// included, on both lanes: the connections to the old process are found
// dead and replaced, not written into. Not every message is retried by
// Raft: a proposal a follower forwarded is not.
func TestMessagesAfterPeerRestartOnSameAddressAreDelivered(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", withTLS), func(t *testing.T) {
			var ca *testCA
			if withTLS {
				ca = newTestCA(t, "cluster-ca")
			}
			config := func(id wire.NodeID, bind string) Config {
				cfg := testConfig(t, id)
				if bind != "" {
					cfg.BindAddr = bind
				}
				if ca != nil {
					cfg.TLS = ca.tlsConfig(t, string(id))
				}
				return cfg
			}
			a, _ := started(t, config("a", ""))
			b, rb := started(t, config("b", ""))
			addr := b.Addr()
			a.SetPeer("b", addr)

			next := uint64(0)
			// sendAndExpect sends two proposals (bulk lane) and two
			// heartbeats (control lane) and waits for all four.
			sendAndExpect := func(rec *transporttest.Recorder, round string) {
				t.Helper()
				want := map[string]bool{}
				for i := 0; i < 2; i++ {
					next++
					prop := wire.Message{Type: wire.MsgProp, From: "a", To: "b", Index: next, Entries: []wire.Entry{{Data: []byte("cmd")}}}
					beat := wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1, Commit: next}
					want[fmt.Sprintf("prop-%d", next)] = true
					want[fmt.Sprintf("beat-%d", next)] = true
					a.Send(prop)
					a.Send(beat)
				}
				for len(want) > 0 {
					m := rec.NextMsg(t) // fails the test if one never comes
					switch m.Type {
					case wire.MsgProp:
						delete(want, fmt.Sprintf("prop-%d", m.Index))
					case wire.MsgHeartbeat:
						delete(want, fmt.Sprintf("beat-%d", m.Commit))
					default:
						t.Fatalf("%s: unexpected %v", round, m)
					}
				}
			}

			sendAndExpect(rb, "before any restart")
			for round := 1; round <= 3; round++ {
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				// A process takes longer than this to die and come back;
				// the lane peeks at a connection idle that long before
				// writing to it.
				time.Sleep(2 * peekAfterIdle)
				b, rb = started(t, config("b", addr))
				sendAndExpect(rb, fmt.Sprintf("right after restart %d", round))
			}
		})
	}
}

// stallingPeer accepts message lanes like a Transport, but never reads
// the first connection after its handshake: writes to it stall until they
// time out. Messages read on later connections go to msgs.
type stallingPeer struct {
	ln    net.Listener
	msgs  chan wire.Message
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newStallingPeer(t *testing.T) *stallingPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingPeer{ln: ln, msgs: make(chan wire.Message, 1024)}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallingPeer) accept() {
	defer p.wg.Done()
	for n := 0; ; n++ {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		if tc, ok := c.(*net.TCPConn); ok && n == 0 {
			// A small, fixed receive buffer (no autotuning) keeps what
			// the stalled connection absorbs to the sender's buffer.
			_ = tc.SetReadBuffer(64 << 10)
		}
		p.wg.Add(1)
		go func(first bool) {
			defer p.wg.Done()
			br := bufio.NewReader(c)
			if _, err := decodeHello(br); err != nil {
				return
			}
			if _, err := c.Write(encodeVerdict("")); err != nil || first {
				return // the first connection is never read again
			}
			fr := frameReader{r: br, max: DefaultMaxFrameSize}
			dec := newMsgDecoder()
			for {
				payload, err := fr.next()
				if err != nil {
					return
				}
				m, err := dec.decode(payload)
				if err != nil {
					return
				}
				p.msgs <- m
			}
		}(n == 0)
	}
}

// A batch whose write fails (here: the peer stopped reading and the write
// timed out) is written again on a new connection rather than dropped.
func TestBatchWhoseWriteFailsIsSentAgainOnANewConnection(t *testing.T) {
	peer := newStallingPeer(t)
	cfg := testConfig(t, "a")
	cfg.WriteTimeout = time.Second
	a, _ := started(t, cfg)
	a.SetPeer("b", peer.ln.Addr().String())
	// The first message is far larger than what the kernel buffers of the
	// stalled connection hold (a few MiB at most), so its write is the one
	// that stalls and fails, whatever the batching.
	huge := make([]byte, 8<<20)
	a.Send(wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 1, Index: 1, Entries: []wire.Entry{{Index: 1, Term: 1, Data: huge}}})
	a.Send(wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 1, Index: 2, Entries: []wire.Entry{{Index: 2, Term: 1, Data: []byte("small")}}})
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m := <-peer.msgs:
			if m.Index == 1 {
				if len(m.Entries) != 1 || len(m.Entries[0].Data) != len(huge) {
					t.Fatalf("message 1 arrived damaged: %v", m)
				}
				return
			}
		case <-deadline:
			t.Fatalf("the message whose write failed never arrived on a new connection (stats %+v)", a.Stats())
		}
	}
}

// A peer that could not be dialed is up again as soon as it connects to
// this node: the dial backoff towards it ends there instead of running its
// course (up to BackoffMax) while the peer waits for answers. A forming
// cluster, or a node back from a restart, would otherwise wait seconds for
// its first messages. The backoff here is an hour: without the rule the
// last message would never arrive during the test.
func TestInboundConnectionEndsTheDialBackoffTowardsThatPeer(t *testing.T) {
	cfgA := testConfig(t, "a")
	cfgA.BackoffMin, cfgA.BackoffMax = time.Hour, time.Hour
	a, ra := started(t, cfgA)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrB := ln.Addr().String()
	ln.Close() // nobody listens there until b starts

	a.SetPeer("b", addrB)
	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1, Commit: 1})
	waitUntil(t, "a's dial to the absent b to fail", func() bool { return a.Stats().DialFailures > 0 })

	cfgB := testConfig(t, "b")
	cfgB.BindAddr = addrB
	b, rb := started(t, cfgB)
	b.SetPeer("a", a.Addr())
	b.Send(wire.Message{Type: wire.MsgHeartbeat, From: "b", To: "a", Term: 1, Commit: 2})
	if m := ra.NextMsg(t); m.From != "b" || m.Commit != 2 {
		t.Fatalf("a received %v, want b's heartbeat", m)
	}

	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1, Commit: 3})
	if m := rb.NextMsg(t); m.From != "a" || m.Commit != 3 {
		t.Fatalf("b received %v, want a's heartbeat sent after b connected", m)
	}
}
