package tcp

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// appBlocker holds every MsgApp until released and passes other messages
// on at once.
type appBlocker struct {
	release chan struct{}
	apps    chan wire.Message
	others  chan wire.Message
}

func (h *appBlocker) HandleMessage(m wire.Message) {
	if m.Type == wire.MsgApp {
		<-h.release
		h.apps <- m
		return
	}
	h.others <- m
}
func (h *appBlocker) HandleSnapshot(wire.Message, io.Reader) error { return nil }
func (h *appBlocker) ReportUnreachable(wire.NodeID)                {}

// Votes and heartbeats are delivered while appends queued before them
// are stuck (here: the follower does not take them), because they travel
// on a connection of their own.
func TestHeartbeatsOvertakeStuckAppends(t *testing.T) {
	b := newTestTransport(t, testConfig(t, "b"))
	h := &appBlocker{release: make(chan struct{}), apps: make(chan wire.Message, 1000), others: make(chan wire.Message, 10)}
	if err := b.Start(h); err != nil {
		t.Fatal(err)
	}
	// On failure, free the handler before the transports close.
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(h.release) }) }
	t.Cleanup(release)
	a, _ := started(t, testConfig(t, "a"))
	a.SetPeer("b", b.Addr())
	big := make([]byte, 64<<10)
	// The follower's read loop is stuck in the first append; on a
	// single connection everything after it would wait too.
	const apps = 16
	for i := 0; i < apps; i++ {
		a.Send(wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 1, Index: uint64(i), Entries: []wire.Entry{{Index: uint64(i + 1), Term: 1, Data: big}}})
	}
	a.Send(wire.Message{Type: wire.MsgVote, From: "a", To: "b", Term: 2})
	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 2})
	for _, want := range []wire.MessageType{wire.MsgVote, wire.MsgHeartbeat} {
		select {
		case m := <-h.others:
			if m.Type != want {
				t.Fatalf("got %v, want %s", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s stuck behind appends", want)
		}
	}
	if len(h.apps) != 0 {
		t.Fatal("an append was delivered although the follower held them")
	}
	release()
	for i := 0; i < apps; i++ {
		select {
		case m := <-h.apps:
			if m.Index != uint64(i) {
				t.Fatalf("append %d arrived as %d", i, m.Index)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("append %d never arrived", i)
		}
	}
}
