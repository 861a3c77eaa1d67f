package raft

import (
	"context"
	"errors"
	"sync"
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
