package raft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// stallingStore is a log store whose StoreEntries blocks while stalled,
// like a disk that stopped answering.
type stallingStore struct {
	logstore.Store
	mu      sync.Mutex
	stalled bool
	release chan struct{}
}

func (s *stallingStore) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stalled {
		s.stalled, s.release = true, make(chan struct{})
	}
}

func (s *stallingStore) unstall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled {
		s.stalled = false
		close(s.release)
	}
}

func (s *stallingStore) StoreEntries(ents []wire.Entry) error {
	s.mu.Lock()
	stalled, release := s.stalled, s.release
	s.mu.Unlock()
	if stalled {
		<-release
	}
	return s.Store.StoreEntries(ents)
}

func TestLeaderWithStalledDiskGivesWay(t *testing.T) {
	c := newTestCluster(t, 3)
	disk := &stallingStore{Store: c.nodes["n1"].store}
	c.nodes["n1"].store = disk
	t.Cleanup(disk.unstall) // runs before the cluster's shutdown
	c.start(true)
	waitFor(t, "n1 to lead", func() bool {
		lead := c.waitLeader()
		if lead == "n1" {
			return true
		}
		_ = c.node(lead).TransferLeadership(context.Background(), "n1")
		time.Sleep(testElection)
		return false
	})
	c.apply("n1", "before-stall")

	disk.stall()
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
		defer cancel()
		_, err := c.node("n1").Apply(ctx, []byte("stuck"))
		errc <- err
	}()
	waitFor(t, "the stalled leader to step down", func() bool { return c.node("n1").State() != Leader })
	lead := c.waitLeader("n2", "n3")
	res := c.apply(lead, "after-stall")
	if err := <-errc; !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Apply on the stalled leader: %v, want outcome unknown", err)
	}

	disk.unstall()
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}

// failingStore is a log store whose writes fail once armed, like a disk
// that returns EIO or ENOSPC.
type failingStore struct {
	logstore.Store
	armed atomic.Bool
}

var errDiskFailed = errors.New("injected disk failure")

func (s *failingStore) StoreEntries(ents []wire.Entry) error {
	if s.armed.Load() {
		return errDiskFailed
	}
	return s.Store.StoreEntries(ents)
}

func (s *failingStore) SetHardState(hs wire.HardState) error {
	if s.armed.Load() {
		return errDiskFailed
	}
	return s.Store.SetHardState(hs)
}

func TestStorageErrorStopsTheNodeAndTheClusterCarriesOn(t *testing.T) {
	c := newTestCluster(t, 3)
	disk := &failingStore{Store: c.nodes["n1"].store}
	c.nodes["n1"].store = disk
	c.start(true)
	lead := c.waitLeader()
	c.apply(lead, "before-failure")

	disk.armed.Store(true)
	n1 := c.node("n1")
	// Whatever n1 is, the next write it must persist fails.
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
		defer cancel()
		_, err := n1.Apply(ctx, []byte("during-failure"))
		errc <- err
	}()
	select {
	case <-n1.Done():
	case <-time.After(waitDeadline):
		t.Fatal("the node with a failing disk did not stop")
	}
	if !errors.Is(n1.Err(), errDiskFailed) {
		t.Fatalf("Err() = %v, want the disk's error", n1.Err())
	}
	if n1.State() != Shutdown {
		t.Fatalf("state %v, want Shutdown", n1.State())
	}
	if err := <-errc; err == nil && lead == "n1" {
		t.Fatal("a leader whose disk failed acknowledged a write")
	} else if err != nil && !errors.Is(err, ErrShutdown) && !errors.Is(err, ErrNotCommitted) && !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Apply on the failed node: %v", err)
	}
	if err := n1.Shutdown(context.Background()); !errors.Is(err, errDiskFailed) {
		t.Fatalf("Shutdown after the failure returned %v, want the disk's error", err)
	}
	// The other two carry on.
	lead = c.waitLeader("n2", "n3")
	c.apply(lead, "after-failure")
}

func TestBadPeerMessagesAreDroppedNotFatal(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(true)
	c.waitLeader()
	n := c.node("n1")
	for _, m := range []wire.Message{
		{Type: wire.MsgStorageAppendResp, From: "evil", Index: 1 << 40},
		{Type: wire.MessageType(200), From: "evil"},
		{Type: wire.MsgApp, From: "stranger", Term: 1 << 50, Index: 1 << 60, Entries: []wire.Entry{{Index: 3}}},
		{Type: wire.MsgSnap, From: "stranger", Term: 2},
	} {
		n.HandleMessage(m)
	}
	if err := n.HandleSnapshot(wire.Message{Type: wire.MsgSnap, From: "stranger"}, nil); err == nil {
		t.Fatal("a snapshot without metadata was accepted")
	}
	n.ReportUnreachable("nobody")
	c.apply("n1", "still-serving")
	if n.Err() != nil {
		t.Fatalf("node stopped: %v", n.Err())
	}
}

// corruptingStore reports every read of its entries as corrupt once armed,
// like a store whose checksums stopped matching.
type corruptingStore struct {
	logstore.Store
	armed atomic.Bool
}

func (s *corruptingStore) Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error) {
	if s.armed.Load() && lo < hi {
		return nil, fmt.Errorf("%w: checksum mismatch at %d", logstore.ErrCorrupt, lo)
	}
	return s.Store.Entries(lo, hi, maxBytes)
}

func TestNodeWithCorruptLogRefusesToServe(t *testing.T) {
	c := newTestCluster(t, 3)
	disk := &corruptingStore{Store: c.nodes["n1"].store}
	c.nodes["n1"].store = disk
	c.start(true)
	lead := c.waitLeader()
	for i := 0; i < 5; i++ {
		c.apply(lead, fmt.Sprintf("before-%d", i))
	}
	c.stopNode("n1")
	disk.armed.Store(true)

	// On restart n1 must replay its log from the store, and finds it
	// corrupt: it either refuses to start or stops at once.
	tn := c.nodes["n1"]
	tr, err := c.net.NewTransport(tn.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	n, err := NewNode(c.config("n1"), newTestFSM(), disk, tn.snaps, tr)
	if err == nil {
		select {
		case <-n.Done():
		case <-time.After(waitDeadline):
			t.Fatal("a node whose log is corrupt kept running")
		}
		err = n.Err()
		_ = n.Shutdown(context.Background())
	}
	if !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("got %v, want an error wrapping logstore.ErrCorrupt", err)
	}
	// The two healthy nodes carry on.
	lead = c.waitLeader("n2", "n3")
	c.apply(lead, "without-n1")
}
