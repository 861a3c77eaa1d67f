// Package transporttest is the conformance suite every transport.Transport
// implementation must pass. Call Run from a test of the implementation's
// package.
package transporttest

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/wire"
)

// The node ids the suite gives the two transports of a pair.
const (
	A wire.NodeID = "a"
	B wire.NodeID = "b"
)

// NewPair returns two fresh transports, not yet started and knowing no
// peers: a acts as node A and b as node B (a transport that names itself
// in a handshake must use these ids). The suite starts them, introduces
// them to each other and closes them.
type NewPair func(t *testing.T) (a, b transport.Transport)

// Run runs the conformance suite against the transports newPair makes.
func Run(t *testing.T, newPair NewPair) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewPair)
	}{
		{"DeliversEveryTypeIntact", testDeliversEveryType},
		{"KeepsPerPeerOrder", testPerPeerOrder},
		{"SendNeverBlocksOnSlowPeer", testSendNeverBlocksSlowPeer},
		{"SendNeverBlocksOnGonePeer", testSendNeverBlocksGonePeer},
		{"StreamsLargeSnapshot", testStreamsLargeSnapshot},
		{"ReportsReceiverSnapshotError", testSnapshotReceiverError},
		{"SnapshotHonoursContext", testSnapshotContext},
		{"MessagesFlowDuringSnapshot", testMessagesDuringSnapshot},
		{"ReportsUnknownPeer", testUnknownPeer},
		{"ReportsClosedPeer", testClosedPeer},
		{"RemovePeerForgetsIt", testRemovePeer},
		{"CloseStopsDeliveryAndGoroutines", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newPair) })
	}
}

// pair is a started pair of transports with their recorders.
type pair struct {
	a, b   transport.Transport
	ra, rb *Recorder
}

func start(t *testing.T, newPair NewPair) *pair {
	t.Helper()
	a, b := newPair(t)
	p := &pair{a: a, b: b, ra: NewRecorder(8192), rb: NewRecorder(8192)}
	if err := a.Start(p.ra); err != nil {
		t.Fatalf("start a: %v", err)
	}
	if err := b.Start(p.rb); err != nil {
		t.Fatalf("start b: %v", err)
	}
	a.SetPeer(B, b.Addr())
	b.SetPeer(A, a.Addr())
	return p
}

func (p *pair) close(t *testing.T) {
	t.Helper()
	if err := p.a.Close(); err != nil {
		t.Errorf("close a: %v", err)
	}
	if err := p.b.Close(); err != nil {
		t.Errorf("close b: %v", err)
	}
}

// noLeaks fails t if goroutines started after it was called outlive the
// test. Call it first, with defer, so that it runs last.
func noLeaks(t *testing.T) func() {
	opt := goleak.IgnoreCurrent()
	return func() { goleak.VerifyNone(t, opt) }
}

func testDeliversEveryType(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	// Both directions, so both transports prove they encode and decode.
	for _, dir := range []struct {
		from transport.Transport
		to   *Recorder
		want []wire.Message
	}{{p.a, p.rb, Messages(A, B)}, {p.b, p.ra, Messages(B, A)}} {
		for _, m := range dir.want {
			dir.from.Send(m)
		}
		// Order across message kinds is not promised (a transport may
		// carry appends on a lane of their own), so match as a multiset.
		left := append([]wire.Message(nil), dir.want...)
		for range dir.want {
			got := dir.to.NextMsg(t)
			found := -1
			for i, w := range left {
				if reflect.DeepEqual(got, w) {
					found = i
					break
				}
			}
			if found < 0 {
				t.Fatalf("received a message that was not sent, or was altered:\n got %#v\nsent %#v", got, left)
			}
			left = append(left[:found], left[found+1:]...)
		}
	}
}

func testPerPeerOrder(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	const batches, perBatch = 16, 256
	next := uint64(1)
	for b := 0; b < batches; b++ {
		for i := 0; i < perBatch; i++ {
			p.a.Send(wire.Message{Type: wire.MsgApp, From: A, To: B, Term: 1, Index: uint64(b*perBatch + i + 1),
				Entries: []wire.Entry{{Index: uint64(b*perBatch + i + 2), Term: 1, Data: []byte("x")}}})
		}
		// A healthy, paced link loses nothing: wait for the batch.
		for i := 0; i < perBatch; i++ {
			got := p.rb.NextMsg(t)
			if got.Index != next {
				t.Fatalf("got MsgApp index %d, want %d: messages to one peer must arrive in send order without gaps", got.Index, next)
			}
			next++
		}
	}
}

func testSendNeverBlocksSlowPeer(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer func() {
		// Whatever is still in flight must not leave b's handler blocked
		// on a full recorder, which would hold up b's Close.
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-p.rb.Msgs:
				case <-stop:
					return
				}
			}
		}()
		p.close(t)
		close(stop)
		<-done
	}()
	release := p.rb.BlockMessages()
	defer release()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100_000; i++ {
			p.a.Send(wire.Message{Type: wire.MsgApp, From: A, To: B, Term: 1, Index: uint64(i),
				Entries: []wire.Entry{{Index: uint64(i + 1), Term: 1, Data: make([]byte, 128)}}})
		}
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Send blocked while the receiver's handler was stuck")
	}
	release()
	// The link still works once the receiver catches up. Catching up
	// means taking the whole backlog (it may exceed the recorder's
	// buffer: a fast sender fills the socket buffers, megabytes), so that
	// no handler is left blocked on a full recorder when the pair closes.
	drainQuiet(t, p.rb)
	waitDelivered(t, p.a, p.rb, wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 9, Commit: 12345})
}

func testSendNeverBlocksGonePeer(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	if err := p.b.Close(); err != nil {
		t.Fatalf("close b: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100_000; i++ {
			p.a.Send(wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 1})
		}
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Send blocked while the peer was gone")
	}
}

// snapshotData returns n deterministic pseudo-random bytes.
func snapshotData(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func snapMsg(from, to wire.NodeID, data []byte) wire.Message {
	m := Messages(from, to)
	for _, x := range m {
		if x.Type == wire.MsgSnap {
			s := *x.Snapshot
			s.Size = int64(len(data))
			s.Checksum = crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
			x.Snapshot = &s
			return x
		}
	}
	panic("transporttest: Messages has no MsgSnap")
}

func testStreamsLargeSnapshot(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	data := snapshotData(8<<20 + 12345)
	m := snapMsg(A, B, data)
	if err := p.a.SendSnapshot(context.Background(), m, bytes.NewReader(data)); err != nil {
		t.Fatalf("SendSnapshot: %v", err)
	}
	var res SnapshotResult
	select {
	case res = <-p.rb.Snapshots:
	case <-time.After(waitFor):
		t.Fatal("receiver recorded no snapshot although the sender saw success")
	}
	if res.ReadErr != nil {
		t.Fatalf("receiver's read failed: %v", res.ReadErr)
	}
	if res.Size != int64(len(data)) || res.Checksum != m.Snapshot.Checksum {
		t.Fatalf("receiver read %d bytes with crc %08x, want %d bytes with crc %08x", res.Size, res.Checksum, len(data), m.Snapshot.Checksum)
	}
	if !reflect.DeepEqual(res.Msg, m) {
		t.Fatalf("snapshot message:\n got %#v\nwant %#v", res.Msg, m)
	}
	// A second snapshot over the same pair works too (no stale state).
	small := snapshotData(1000)
	if err := p.a.SendSnapshot(context.Background(), snapMsg(A, B, small), bytes.NewReader(small)); err != nil {
		t.Fatalf("second SendSnapshot: %v", err)
	}
}

func testSnapshotReceiverError(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	p.rb.FailSnapshots(errInjected, 1<<20)
	data := snapshotData(4 << 20)
	err := p.a.SendSnapshot(context.Background(), snapMsg(A, B, data), bytes.NewReader(data))
	if err == nil {
		t.Fatal("SendSnapshot succeeded although the receiver's handler failed")
	}
	if !strings.Contains(err.Error(), errInjected.Error()) {
		t.Fatalf("SendSnapshot error %q does not carry the receiver's error %q", err, errInjected)
	}
	// The pair still works afterwards.
	waitDelivered(t, p.a, p.rb, wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 3})
}

func testSnapshotContext(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	release := p.rb.HoldSnapshots()
	defer release()
	data := snapshotData(4 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.a.SendSnapshot(ctx, snapMsg(A, B, data), bytes.NewReader(data)) }()
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("SendSnapshot succeeded although its context was cancelled before the receiver read anything")
		}
	case <-time.After(waitFor):
		t.Fatal("SendSnapshot ignored its cancelled context")
	}
	release()
}

func testMessagesDuringSnapshot(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	release := p.rb.HoldSnapshots()
	defer release()
	data := snapshotData(8 << 20)
	errc := make(chan error, 1)
	go func() { errc <- p.a.SendSnapshot(context.Background(), snapMsg(A, B, data), bytes.NewReader(data)) }()
	// While the receiver sits on the stream, small messages flow both ways.
	for i := 0; i < 20; i++ {
		waitDelivered(t, p.a, p.rb, wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 5, Commit: uint64(i)})
		waitDelivered(t, p.b, p.ra, wire.Message{Type: wire.MsgHeartbeatResp, From: B, To: A, Term: 5, Context: []byte{byte(i)}})
	}
	release()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("SendSnapshot: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("snapshot never completed after the receiver resumed")
	}
}

func testUnknownPeer(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	const ghost wire.NodeID = "ghost"
	p.ra.WaitUnreachable(t, ghost, func() {
		p.a.Send(wire.Message{Type: wire.MsgHeartbeat, From: A, To: ghost, Term: 1})
	})
	data := snapshotData(100)
	err := p.a.SendSnapshot(context.Background(), snapMsg(A, ghost, data), bytes.NewReader(data))
	if !errors.Is(err, transport.ErrUnknownPeer) {
		t.Fatalf("SendSnapshot to a peer with no address: got %v, want ErrUnknownPeer", err)
	}
}

func testClosedPeer(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	waitDelivered(t, p.a, p.rb, wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 1})
	if err := p.b.Close(); err != nil {
		t.Fatalf("close b: %v", err)
	}
	p.ra.WaitUnreachable(t, B, func() {
		p.a.Send(wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 1})
	})
	data := snapshotData(1000)
	if err := p.a.SendSnapshot(context.Background(), snapMsg(A, B, data), bytes.NewReader(data)); err == nil {
		t.Fatal("SendSnapshot to a closed peer succeeded")
	}
}

func testRemovePeer(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	defer p.close(t)
	waitDelivered(t, p.a, p.rb, wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 1})
	p.a.RemovePeer(B)
	p.ra.WaitUnreachable(t, B, func() {
		p.a.Send(wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 2})
	})
	// Whatever the removed peer got, it got nothing sent after removal
	// except what was in flight; re-adding it restores the link.
	p.a.SetPeer(B, p.b.Addr())
	drain(p.rb)
	waitDelivered(t, p.a, p.rb, wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 3})
}

func testClose(t *testing.T, newPair NewPair) {
	defer noLeaks(t)()
	p := start(t, newPair)
	waitDelivered(t, p.a, p.rb, wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 1})
	p.close(t)
	drain(p.rb)
	for i := 0; i < 100; i++ {
		p.a.Send(wire.Message{Type: wire.MsgHeartbeat, From: A, To: B, Term: 2})
	}
	data := snapshotData(10)
	if err := p.a.SendSnapshot(context.Background(), snapMsg(A, B, data), bytes.NewReader(data)); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("SendSnapshot after Close: got %v, want ErrClosed", err)
	}
	select {
	case m := <-p.rb.Msgs:
		t.Fatalf("closed transport delivered %v", m)
	default:
	}
	// Close is idempotent.
	if err := p.a.Close(); err != nil && !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// drain discards what r has recorded so far.
// drainQuiet discards r's messages until none has arrived for a while,
// and fails t if they never stop.
func drainQuiet(t *testing.T, r *Recorder) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case <-r.Msgs:
		case <-time.After(200 * time.Millisecond):
			return
		case <-deadline:
			t.Fatal("messages never stopped arriving")
		}
	}
}

func drain(r *Recorder) {
	for {
		select {
		case <-r.Msgs:
		default:
			return
		}
	}
}

// waitDelivered sends m from "from" until to's recorder sees it (a
// transport may lose messages while connecting), and fails t if it never
// does. Other messages seen meanwhile are discarded.
func waitDelivered(t *testing.T, from transport.Transport, to *Recorder, m wire.Message) {
	t.Helper()
	deadline := time.After(waitFor)
	resend := time.NewTicker(50 * time.Millisecond)
	defer resend.Stop()
	from.Send(m)
	for {
		select {
		case got := <-to.Msgs:
			if reflect.DeepEqual(got, m) {
				return
			}
		case <-resend.C:
			from.Send(m)
		case <-deadline:
			t.Fatalf("%v never delivered", m)
		}
	}
}
