package inmem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// cluster is n started transports named n1..nk at addresses of the same
// names, each knowing all others.
type cluster struct {
	net  *Network
	ts   map[wire.NodeID]*Transport
	recs map[wire.NodeID]*transporttest.Recorder
}

func newCluster(t *testing.T, seed int64, ids ...wire.NodeID) *cluster {
	t.Helper()
	c := &cluster{net: NewNetwork(seed), ts: map[wire.NodeID]*Transport{}, recs: map[wire.NodeID]*transporttest.Recorder{}}
	for _, id := range ids {
		tr, err := c.net.NewTransport(string(id))
		if err != nil {
			t.Fatal(err)
		}
		rec := transporttest.NewRecorder(20000)
		if err := tr.Start(rec); err != nil {
			t.Fatal(err)
		}
		c.ts[id], c.recs[id] = tr, rec
	}
	for _, tr := range c.ts {
		for _, id := range ids {
			tr.SetPeer(id, string(id))
		}
	}
	t.Cleanup(func() {
		for _, tr := range c.ts {
			tr.Close()
		}
	})
	return c
}

func hb(from, to wire.NodeID, i uint64) wire.Message {
	return wire.Message{Type: wire.MsgHeartbeat, From: from, To: to, Term: 1, Commit: i}
}

// settle waits until every queued and delayed message has been dealt
// with: the network's counters stop moving for a while.
func settle(t *testing.T, n *Network, want func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s := n.Stats()
		if want(s) {
			return s
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("network never settled: %+v", n.Stats())
	return Stats{}
}

// allDone reports whether every message sent has been dropped, blocked
// or delivered (with its duplicates).
func allDone(sent uint64) func(Stats) bool {
	return func(s Stats) bool {
		return s.Sent == sent && s.Delivered == s.Sent-s.Dropped-s.Blocked+s.Duplicated
	}
}

// received takes the n messages rec must have got.
func received(t *testing.T, rec *transporttest.Recorder, n uint64) []wire.Message {
	t.Helper()
	var out []wire.Message
	for uint64(len(out)) < n {
		out = append(out, rec.NextMsg(t))
	}
	select {
	case m := <-rec.Msgs:
		t.Fatalf("unexpected extra message %v", m)
	default:
	}
	return out
}

func TestPartitionSeparatesGroupsAndHealRestores(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := newCluster(t, 1, "n1", "n2", "n3")
	c.net.Partition([]string{"n1"}, []string{"n2", "n3"})

	c.ts["n1"].Send(hb("n1", "n2", 1))
	c.recs["n1"].WaitUnreachable(t, "n2", nil)
	c.ts["n2"].Send(hb("n2", "n3", 2))
	if got := c.recs["n3"].NextMsg(t); got.Commit != 2 {
		t.Fatalf("n3 got %v, want the heartbeat from n2 in its own group", got)
	}
	s := settle(t, c.net, allDone(2))
	if s.Blocked != 1 || s.Delivered != 1 {
		t.Fatalf("stats %+v: want 1 blocked across the partition, 1 delivered within a group", s)
	}
	select {
	case m := <-c.recs["n2"].Msgs:
		t.Fatalf("message crossed the partition: %v", m)
	default:
	}

	c.net.Heal()
	c.ts["n1"].Send(hb("n1", "n2", 3))
	if got := c.recs["n2"].NextMsg(t); got.Commit != 3 {
		t.Fatalf("after Heal n2 got %v, want commit 3", got)
	}
	for _, tr := range c.ts {
		tr.Close()
	}
}

func TestUnlistedAddressesShareAGroup(t *testing.T) {
	c := newCluster(t, 1, "n1", "n2", "n3")
	c.net.Partition([]string{"n1"})
	c.ts["n2"].Send(hb("n2", "n3", 7))
	if got := c.recs["n3"].NextMsg(t); got.Commit != 7 {
		t.Fatalf("got %v", got)
	}
	c.ts["n3"].Send(hb("n3", "n1", 8))
	c.recs["n3"].WaitUnreachable(t, "n1", nil)
}

func TestCutIsOneWay(t *testing.T) {
	c := newCluster(t, 1, "n1", "n2")
	c.net.Cut("n1", "n2") // n1 can no longer send to n2, but hears it
	c.ts["n2"].Send(hb("n2", "n1", 1))
	if got := c.recs["n1"].NextMsg(t); got.Commit != 1 {
		t.Fatalf("n1 got %v, want n2's heartbeat over the intact direction", got)
	}
	c.ts["n1"].Send(hb("n1", "n2", 2))
	c.recs["n1"].WaitUnreachable(t, "n2", nil)
	data := []byte("snapshot bytes")
	err := c.ts["n1"].SendSnapshot(context.Background(), wire.Message{Type: wire.MsgSnap, From: "n1", To: "n2", Snapshot: &wire.SnapshotMeta{Index: 1}}, bytes.NewReader(data))
	if !errors.Is(err, ErrLinkDown) {
		t.Fatalf("snapshot over a cut link: got %v, want ErrLinkDown", err)
	}
	c.net.Mend("n1", "n2")
	c.ts["n1"].Send(hb("n1", "n2", 3))
	if got := c.recs["n2"].NextMsg(t); got.Commit != 3 {
		t.Fatalf("after Mend n2 got %v, want commit 3", got)
	}
}

func TestIsolateCutsBothWays(t *testing.T) {
	c := newCluster(t, 1, "n1", "n2", "n3")
	c.net.Isolate("n2")
	c.ts["n1"].Send(hb("n1", "n2", 1))
	c.recs["n1"].WaitUnreachable(t, "n2", nil)
	c.ts["n2"].Send(hb("n2", "n3", 1))
	c.recs["n2"].WaitUnreachable(t, "n3", nil)
	c.ts["n1"].Send(hb("n1", "n3", 5))
	if got := c.recs["n3"].NextMsg(t); got.Commit != 5 {
		t.Fatalf("n3 got %v, want n1's heartbeat (not isolated)", got)
	}
	c.net.Rejoin("n2")
	c.ts["n2"].Send(hb("n2", "n3", 6))
	if got := c.recs["n3"].NextMsg(t); got.Commit != 6 {
		t.Fatalf("after Rejoin n3 got %v, want n2's heartbeat", got)
	}
}

func TestDropLosesAboutTheGivenShare(t *testing.T) {
	c := newCluster(t, 42, "n1", "n2")
	c.net.SetFaults("n1", "n2", Faults{Drop: 0.3})
	const total = 2000
	for i := 0; i < total; i++ {
		c.ts["n1"].Send(hb("n1", "n2", uint64(i)))
	}
	s := settle(t, c.net, allDone(total))
	// 30% of 2000 is 600; the binomial's deviation is ~20.
	if s.Dropped < 450 || s.Dropped > 750 {
		t.Fatalf("dropped %d of %d with Drop 0.3", s.Dropped, total)
	}
	got := received(t, c.recs["n2"], s.Delivered)
	for i := 1; i < len(got); i++ {
		if got[i].Commit <= got[i-1].Commit {
			t.Fatalf("loss must not reorder: %d after %d", got[i].Commit, got[i-1].Commit)
		}
	}
}

func TestDuplicateDeliversTwice(t *testing.T) {
	c := newCluster(t, 7, "n1", "n2")
	c.net.SetDefaultFaults(Faults{Duplicate: 1})
	c.ts["n1"].Send(hb("n1", "n2", 1))
	a, b := c.recs["n2"].NextMsg(t), c.recs["n2"].NextMsg(t)
	if a.Commit != 1 || b.Commit != 1 {
		t.Fatalf("got %v and %v, want the same heartbeat twice", a, b)
	}
}

func TestDelayedLinkStaysFIFOUnlessReorder(t *testing.T) {
	for _, reorder := range []bool{false, true} {
		c := newCluster(t, 3, "n1", "n2")
		c.net.SetFaults("n1", "n2", Faults{DelayMin: 0, DelayMax: 5 * time.Millisecond, Reorder: reorder})
		const total = 300
		for i := 0; i < total; i++ {
			c.ts["n1"].Send(hb("n1", "n2", uint64(i)))
		}
		var got []uint64
		for len(got) < total {
			got = append(got, c.recs["n2"].NextMsg(t).Commit)
		}
		inversions := 0
		for i := 1; i < len(got); i++ {
			if got[i] < got[i-1] {
				inversions++
			}
		}
		if !reorder && inversions != 0 {
			t.Fatalf("FIFO delayed link reordered %d times", inversions)
		}
		if reorder && inversions == 0 {
			t.Fatalf("reordering link with random delays delivered %d messages in order", total)
		}
	}
}

// The same seed and the same sends give the same fate to every message.
func TestFaultsReplayFromSeed(t *testing.T) {
	run := func() []uint64 {
		c := newCluster(t, 99, "n1", "n2")
		c.net.SetFaults("n1", "n2", Faults{Drop: 0.5, Duplicate: 0.2})
		for i := 0; i < 500; i++ {
			c.ts["n1"].Send(hb("n1", "n2", uint64(i)))
		}
		s := settle(t, c.net, allDone(500))
		var out []uint64
		for _, m := range received(t, c.recs["n2"], s.Delivered) {
			out = append(out, m.Commit)
		}
		return out
	}
	first, second := run(), run()
	if len(first) == 0 || len(first) == 500 {
		t.Fatalf("faults had no visible effect: %d of 500 delivered", len(first))
	}
	if len(first) != len(second) {
		t.Fatalf("same seed, different outcome: %d vs %d deliveries", len(first), len(second))
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("same seed, delivery %d differs: %d vs %d", i, first[i], second[i])
		}
	}
}

// slowReader blocks until its gate opens, so a test can act mid-stream.
type gatedHandler struct {
	*transporttest.Recorder
	started chan struct{}
	gate    chan struct{}
	err     chan error
}

func (h *gatedHandler) HandleSnapshot(m wire.Message, data io.Reader) error {
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(data, buf); err != nil {
		h.err <- err
		return err
	}
	close(h.started)
	<-h.gate
	_, err := io.Copy(io.Discard, data)
	h.err <- err
	return err
}

func TestSnapshotAbortsWhenLinkIsCutMidStream(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := NewNetwork(1)
	a, _ := n.NewTransport("a")
	b, _ := n.NewTransport("b")
	defer a.Close()
	defer b.Close()
	h := &gatedHandler{Recorder: transporttest.NewRecorder(10), started: make(chan struct{}), gate: make(chan struct{}), err: make(chan error, 1)}
	if err := a.Start(transporttest.NewRecorder(10)); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(h); err != nil {
		t.Fatal(err)
	}
	a.SetPeer("b", "b")
	data := make([]byte, 4<<20)
	errc := make(chan error, 1)
	go func() {
		errc <- a.SendSnapshot(context.Background(), wire.Message{Type: wire.MsgSnap, From: "a", To: "b", Snapshot: &wire.SnapshotMeta{Index: 9}}, bytes.NewReader(data))
	}()
	<-h.started
	n.Cut("a", "b")
	close(h.gate)
	if err := <-errc; !errors.Is(err, ErrLinkDown) {
		t.Fatalf("SendSnapshot over a link cut mid-stream: got %v, want ErrLinkDown", err)
	}
	if err := <-h.err; !errors.Is(err, ErrLinkDown) {
		t.Fatalf("receiver's read: got %v, want ErrLinkDown", err)
	}
}

func TestNewTransportRefusesAddressInUse(t *testing.T) {
	n := NewNetwork(1)
	a, err := n.NewTransport("x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.NewTransport("x"); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("got %v, want ErrAddrInUse", err)
	}
	a.Close()
	b, err := n.NewTransport("x")
	if err != nil {
		t.Fatalf("address not released by Close: %v", err)
	}
	b.Close()
}

func TestSendsAreCopies(t *testing.T) {
	c := newCluster(t, 1, "n1", "n2")
	m := wire.Message{Type: wire.MsgApp, From: "n1", To: "n2", Entries: []wire.Entry{{Index: 1, Data: []byte("abc")}}, Context: []byte("k")}
	c.ts["n1"].Send(m)
	m.Entries[0].Data[0] = 'X'
	m.Context[0] = 'X'
	got := c.recs["n2"].NextMsg(t)
	if string(got.Entries[0].Data) != "abc" || string(got.Context) != "k" {
		t.Fatalf("receiver saw the sender's later writes: %q %q", got.Entries[0].Data, got.Context)
	}
}

func TestCloseDuringSnapshot(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, closeSender := range []bool{true, false} {
		n := NewNetwork(1)
		a, _ := n.NewTransport("a")
		b, _ := n.NewTransport("b")
		h := &gatedHandler{Recorder: transporttest.NewRecorder(10), started: make(chan struct{}), gate: make(chan struct{}), err: make(chan error, 1)}
		if err := a.Start(transporttest.NewRecorder(10)); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(h); err != nil {
			t.Fatal(err)
		}
		a.SetPeer("b", "b")
		errc := make(chan error, 1)
		go func() {
			errc <- a.SendSnapshot(context.Background(), wire.Message{Type: wire.MsgSnap, From: "a", To: "b", Snapshot: &wire.SnapshotMeta{Index: 1}}, &zeros{size: 1 << 40})
		}()
		<-h.started
		close(h.gate)
		if closeSender {
			a.Close()
		} else {
			b.Close()
		}
		if err := <-errc; err == nil {
			t.Fatalf("closeSender=%v: snapshot succeeded although a side closed mid-stream", closeSender)
		}
		if err := <-h.err; err == nil {
			t.Fatalf("closeSender=%v: receiver read a whole snapshot from a closed stream", closeSender)
		}
		a.Close()
		b.Close()
	}
}

// zeros is a seekable stream of size zero bytes that takes no memory.
type zeros struct{ size, off int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.off >= z.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if rem := z.size - z.off; n > rem {
		n = rem
	}
	clear(p[:n])
	z.off += n
	return int(n), nil
}

func (z *zeros) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += z.off
	case io.SeekEnd:
		off += z.size
	}
	z.off = off
	return off, nil
}

func TestDropIfLosesChosenMessages(t *testing.T) {
	c := newCluster(t, 1, "n1", "n2")
	c.net.DropIf(func(from, to string, m wire.Message) bool { return m.Type == wire.MsgVote })
	c.ts["n1"].Send(wire.Message{Type: wire.MsgVote, From: "n1", To: "n2", Term: 1})
	c.ts["n1"].Send(hb("n1", "n2", 2))
	if got := c.recs["n2"].NextMsg(t); got.Type != wire.MsgHeartbeat {
		t.Fatalf("got %v, want the heartbeat only", got)
	}
	if s := settle(t, c.net, allDone(2)); s.Dropped != 1 {
		t.Fatalf("stats %+v: want the vote dropped", s)
	}
	c.net.Heal()
	c.ts["n1"].Send(wire.Message{Type: wire.MsgVote, From: "n1", To: "n2", Term: 3})
	if got := c.recs["n2"].NextMsg(t); got.Type != wire.MsgVote {
		t.Fatalf("after Heal got %v, want the vote", got)
	}
}
