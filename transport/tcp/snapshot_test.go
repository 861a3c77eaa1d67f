package tcp

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// proxy forwards TCP connections to a target, letting a test damage the
// dialer-to-target direction of each connection.
type proxy struct {
	ln     net.Listener
	target string
	// damage is called with the connection's number, the stream offset of
	// the buffer and the buffer; it may alter the buffer, and returns true
	// to cut the connection before forwarding it.
	damage func(conn int, off int64, p []byte) bool

	forwarded atomic.Int64 // dialer-to-target bytes
	conns     atomic.Int32
	wg        sync.WaitGroup
	mu        sync.Mutex
	open      []net.Conn
}

func newProxy(t *testing.T, target string, damage func(conn int, off int64, p []byte) bool) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, damage: damage}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	p.open = append(p.open, cs...)
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.track(in, out)
		n := int(p.conns.Add(1))
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(in, out)
			in.Close()
		}()
		go func() {
			defer p.wg.Done()
			defer out.Close()
			defer in.Close()
			buf := make([]byte, 32<<10)
			var off int64
			for {
				k, err := in.Read(buf)
				if k > 0 {
					if p.damage != nil && p.damage(n, off, buf[:k]) {
						return
					}
					if _, werr := out.Write(buf[:k]); werr != nil {
						return
					}
					p.forwarded.Add(int64(k))
					off += int64(k)
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func randomData(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func snapFor(from, to wire.NodeID, data []byte) wire.Message {
	return wire.Message{Type: wire.MsgSnap, From: from, To: to, Term: 3, Snapshot: &wire.SnapshotMeta{
		Index: 100, Term: 3, Size: int64(len(data)), Checksum: crc32.Checksum(data, castagnoli),
		Config: wire.Configuration{Servers: []wire.Server{{ID: from}, {ID: to}}},
	}}
}

func snapPair(t *testing.T, tweak func(*Config)) (a *Transport, b *Transport, rb *transporttest.Recorder, logsA, logsB *syncBuffer) {
	cfgA, logsA := loggedConfig(t, "a")
	cfgB, logsB := loggedConfig(t, "b")
	for _, c := range []*Config{&cfgA, &cfgB} {
		c.SnapshotChunkSize = 64 << 10
		c.BackoffMin = time.Millisecond
		c.BackoffMax = 10 * time.Millisecond
		if tweak != nil {
			tweak(c)
		}
	}
	a, _ = started(t, cfgA)
	b, rb = started(t, cfgB)
	return a, b, rb, logsA, logsB
}

func wantSnapshot(t *testing.T, rb *transporttest.Recorder, data []byte) {
	t.Helper()
	select {
	case res := <-rb.Snapshots:
		if res.ReadErr != nil || res.Size != int64(len(data)) || res.Checksum != crc32.Checksum(data, castagnoli) {
			t.Fatalf("receiver got %d bytes, crc %08x, read error %v; want %d bytes, crc %08x", res.Size, res.Checksum, res.ReadErr, len(data), crc32.Checksum(data, castagnoli))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receiver recorded no snapshot")
	}
	select {
	case res := <-rb.Snapshots:
		t.Fatalf("the handler ran again (%d bytes): the stream restarted instead of resuming", res.Size)
	default:
	}
}

func TestSnapshotResumesAfterDroppedConnection(t *testing.T) {
	a, b, rb, _, logsB := snapPair(t, nil)
	data := randomData(4 << 20)
	var cut atomic.Bool
	px := newProxy(t, b.Addr(), func(conn int, off int64, p []byte) bool {
		return off > 1<<20 && cut.CompareAndSwap(false, true)
	})
	a.SetPeer("b", px.addr())
	if err := a.SendSnapshot(context.Background(), snapFor("a", "b", data), bytes.NewReader(data)); err != nil {
		t.Fatalf("SendSnapshot: %v", err)
	}
	wantSnapshot(t, rb, data)
	if !cut.Load() {
		t.Fatal("the proxy never cut the stream: the test proved nothing")
	}
	waitLog(t, logsB, "resuming snapshot stream")
	if s := a.Stats(); s.SnapshotsSent != 1 || s.SnapshotsFailed != 0 || s.SnapshotResumes < 1 || s.SnapshotBytesSent < uint64(len(data)) {
		t.Fatalf("sender stats %+v: want one snapshot sent after a resume, all its bytes counted", s)
	}
	if sent := px.forwarded.Load(); sent > int64(len(data))*3/2 {
		t.Fatalf("%d bytes crossed the link for a %d-byte snapshot: the stream started over", sent, len(data))
	}
}

func TestSnapshotChunkCorruptionIsCaughtAndResent(t *testing.T) {
	a, b, rb, _, logsB := snapPair(t, nil)
	data := randomData(3 << 20)
	var flipped atomic.Bool
	px := newProxy(t, b.Addr(), func(conn int, off int64, p []byte) bool {
		// Flip a byte in the middle of some chunk's data, once.
		at := int64(1<<20 + 1000)
		if off <= at && at < off+int64(len(p)) && flipped.CompareAndSwap(false, true) {
			p[at-off] ^= 0x40
		}
		return false
	})
	a.SetPeer("b", px.addr())
	if err := a.SendSnapshot(context.Background(), snapFor("a", "b", data), bytes.NewReader(data)); err != nil {
		t.Fatalf("SendSnapshot: %v", err)
	}
	if !flipped.Load() {
		t.Fatal("nothing was corrupted: the test proved nothing")
	}
	wantSnapshot(t, rb, data)
	waitLog(t, logsB, "checksum mismatch")
}

// A sender that never comes back leaves the receiver's handler with an
// error once ResumeTimeout passes, rather than waiting forever.
func TestAbandonedSnapshotFailsTheHandler(t *testing.T) {
	a, b, rb, _, _ := snapPair(t, func(c *Config) {
		c.ResumeTimeout = 100 * time.Millisecond
		c.SnapshotRetries = 2
	})
	data := randomData(2 << 20)
	var px *proxy
	px = newProxy(t, b.Addr(), func(conn int, off int64, p []byte) bool {
		if off > 512<<10 {
			go px.ln.Close() // and no more connections
			return true
		}
		return false
	})
	a.SetPeer("b", px.addr())
	if err := a.SendSnapshot(context.Background(), snapFor("a", "b", data), bytes.NewReader(data)); err == nil {
		t.Fatal("SendSnapshot succeeded over a link that died")
	}
	select {
	case res := <-rb.Snapshots:
		if res.ReadErr == nil {
			t.Fatalf("handler read %d bytes and no error from an abandoned stream", res.Size)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler of an abandoned stream never returned")
	}
}

func TestSnapshotOfUnreachablePeerFailsFast(t *testing.T) {
	a, b, _, _, _ := snapPair(t, nil)
	addr := b.Addr()
	b.Close()
	a.SetPeer("b", addr)
	data := randomData(1000)
	if err := a.SendSnapshot(context.Background(), snapFor("a", "b", data), bytes.NewReader(data)); err == nil {
		t.Fatal("SendSnapshot to a closed peer succeeded")
	}
}

func TestSnapshotHandlerReadsExactlyTheData(t *testing.T) {
	for _, size := range []int{0, 1, 64 << 10, 64<<10 + 1, 1<<20 - 3} {
		a, b, rb, _, _ := snapPair(t, nil)
		a.SetPeer("b", b.Addr())
		data := randomData(size)
		if err := a.SendSnapshot(context.Background(), snapFor("a", "b", data), bytes.NewReader(data)); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		wantSnapshot(t, rb, data)
	}
}

func TestLimiterSpacesReservationsByRate(t *testing.T) {
	l := newLimiter(1 << 20) // 1 MiB/s
	t0 := time.Unix(1000, 0)
	if at := l.reserve(t0, 512<<10); !at.Equal(t0) {
		t.Fatalf("first reservation at %v, want at once", at)
	}
	if at := l.reserve(t0, 512<<10); !at.Equal(t0.Add(500 * time.Millisecond)) {
		t.Fatalf("second reservation at %v, want after the first half MiB's 500ms", at.Sub(t0))
	}
	if at := l.reserve(t0, 1); !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("third reservation at %v, want 1s", at.Sub(t0))
	}
	// Idle time is not saved up for a burst.
	later := t0.Add(time.Hour)
	l.reserve(later, 1<<20)
	if at := l.reserve(later, 1); !at.Equal(later.Add(time.Second)) {
		t.Fatalf("after an idle hour, the second MiB may go at %v, want 1s", at.Sub(later))
	}
	if err := (*limiter)(nil).wait(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := newLimiter(0).wait(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
}

// With a bandwidth cap, a snapshot still arrives whole, and the transport
// paces it through the limiter (what pace is a matter for benchmarks).
func TestSnapshotUnderBandwidthCapArrivesWhole(t *testing.T) {
	a, b, rb, _, _ := snapPair(t, func(c *Config) { c.SnapshotBandwidth = 32 << 20 })
	a.SetPeer("b", b.Addr())
	data := randomData(2 << 20)
	start := time.Now()
	if err := a.SendSnapshot(context.Background(), snapFor("a", "b", data), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	wantSnapshot(t, rb, data)
	// Every chunk was booked: the schedule reaches at least as far past
	// the start as the data takes at the cap.
	booked := a.limiter.reserve(start, 0).Sub(start)
	if want := time.Duration(int64(len(data)) * int64(time.Second) / (32 << 20)); booked < want {
		t.Fatalf("the limiter booked %v of sending, want at least %v", booked, want)
	}
}

// Closing the sender mid-stream ends SendSnapshot with ErrClosed, and
// closing the receiver ends its handler's read with an error.
func TestCloseDuringSnapshot(t *testing.T) {
	for _, closeSender := range []bool{true, false} {
		a, b, rb, _, _ := snapPair(t, nil)
		a.SetPeer("b", b.Addr())
		release := rb.HoldSnapshots()
		errc := make(chan error, 1)
		go func() {
			r := &patternReader{size: 1 << 30}
			errc <- a.SendSnapshot(context.Background(), wire.Message{Type: wire.MsgSnap, From: "a", To: "b", Snapshot: &wire.SnapshotMeta{Index: 1}}, r)
		}()
		time.Sleep(50 * time.Millisecond) // let the stream start
		release()
		if closeSender {
			a.Close()
		} else {
			b.Close()
		}
		select {
		case err := <-errc:
			if err == nil {
				t.Fatalf("closeSender=%v: a 1 GiB snapshot succeeded although a side closed", closeSender)
			}
			if closeSender && !errors.Is(err, transport.ErrClosed) {
				t.Fatalf("SendSnapshot on a closed sender: got %v, want ErrClosed", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("closeSender=%v: SendSnapshot never returned", closeSender)
		}
		if !closeSender {
			res := <-rb.Snapshots
			if res.ReadErr == nil {
				t.Fatal("the receiver's handler read a whole snapshot from a closed transport")
			}
		}
	}
}
