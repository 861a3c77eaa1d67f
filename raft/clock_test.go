package raft

import (
	"context"
	"sync"
	"testing"
	"time"
)

// manualClock is a Clock whose time and tickers move only when the test
// says so.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*manualTicker
}

type manualTicker struct{ c chan time.Time }

func (t *manualTicker) C() <-chan time.Time { return t.c }
func (t *manualTicker) Stop()               {}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) NewTicker(time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTicker{c: make(chan time.Time)}
	c.tickers = append(c.tickers, t)
	return t
}

// tick delivers one tick to every ticker (the event loop's and the
// snapshot policy's, created in no particular order); it waits a little
// for each to be taken.
func (c *manualClock) tick() {
	c.mu.Lock()
	tickers := append([]*manualTicker(nil), c.tickers...)
	now := c.now
	c.mu.Unlock()
	for _, t := range tickers {
		select {
		case t.c <- now:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestInjectedClockDrivesElectionsAndStampsEntries(t *testing.T) {
	clock := &manualClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	c := newTestCluster(t, 1, withConfig(func(cfg *Config) { cfg.Clock = clock }))
	c.start(true)
	n := c.node("n1")
	// Without ticks, time stands still: no election.
	time.Sleep(5 * testElection)
	if n.State() == Leader {
		t.Fatal("the node elected itself without a single tick of its clock")
	}
	_, _, el, _ := c.config("n1").withDefaults().ticks()
	waitFor(t, "an election driven by manual ticks", func() bool {
		for i := 0; i < 2*el && n.State() != Leader; i++ {
			clock.tick()
		}
		return n.State() == Leader
	})
	res := c.apply("n1", "stamped")
	if res.Index == 0 {
		t.Fatal("no index")
	}
	for _, e := range logOf(t, c.nodes["n1"].store) {
		if e.Index == res.Index && e.Time != clock.Now().UnixNano() {
			t.Fatalf("entry time %d, want the injected clock's %d", e.Time, clock.Now().UnixNano())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	if _, err := n.Stats(ctx); err != nil {
		t.Fatal(err)
	}
}
