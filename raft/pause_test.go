package raft

import (
	"sync"
	"testing"
	"time"
)

// pausableClock is the system clock with two powers a test needs to play a
// process pause (SIGSTOP): freeze its tickers, and jump its time forward by
// the length of the pause, as CLOCK_MONOTONIC does while a process is
// stopped.
type pausableClock struct {
	mu     sync.Mutex
	offset time.Duration
	frozen bool
}

func (c *pausableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *pausableClock) pause() { c.mu.Lock(); c.frozen = true; c.mu.Unlock() }

// resume ends a pause that lasted d: time jumps, tickers run again.
func (c *pausableClock) resume(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.frozen = false
	c.mu.Unlock()
}

func (c *pausableClock) NewTicker(d time.Duration) Ticker {
	t := &pausableTicker{c: make(chan time.Time, 1), stop: make(chan struct{}), done: make(chan struct{})}
	real := time.NewTicker(d)
	go func() {
		defer close(t.done)
		defer real.Stop()
		for {
			select {
			case <-t.stop:
				return
			case now := <-real.C:
				c.mu.Lock()
				frozen, off := c.frozen, c.offset
				c.mu.Unlock()
				if frozen {
					continue
				}
				select {
				case t.c <- now.Add(off):
				default: // a ticker drops what its reader misses
				}
			}
		}
	}()
	return t
}

type pausableTicker struct {
	c          chan time.Time
	stop, done chan struct{}
	once       sync.Once
}

func (t *pausableTicker) C() <-chan time.Time { return t.c }
func (t *pausableTicker) Stop() {
	t.once.Do(func() { close(t.stop) })
	<-t.done
}

// A leader paused past an election timeout (SIGSTOP), while the others
// elected a new leader, must not serve a lease read when it resumes: its
// clock lost the ticks of the pause, but its lease ages with real time, so
// the very first thing it does on waking is to notice the lease expired.
func TestAResumedLeaderAgesItsLeaseBeforeServingAnyRead(t *testing.T) {
	var mu sync.Mutex
	clocks := map[string]*pausableClock{}
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) {
		cfg.LeaseReads = true
		mu.Lock()
		defer mu.Unlock()
		if clocks[string(cfg.ID)] == nil {
			clocks[string(cfg.ID)] = &pausableClock{}
		}
		cfg.Clock = clocks[string(cfg.ID)]
	}))
	c.start(true)
	old := c.waitLeader()
	c.apply(old, "before-pause")
	if err := c.node(old).Read(readCtx(t, waitDeadline), ReadConsistency{Mode: Lease}); err != nil {
		t.Fatalf("lease read on the healthy leader: %v", err)
	}
	mu.Lock()
	clock := clocks[string(old)]
	mu.Unlock()

	// The pause: the leader's ticks stop and it hears nothing; the others
	// move on.
	clock.pause()
	c.isolate(old)
	newLead := c.waitLeader(c.others(old)...)
	res := c.apply(newLead, "written-during-pause")

	// SIGCONT, ten election timeouts later. The read is the first input
	// the old leader handles; no tick has reached it since the pause.
	clock.resume(10 * testElection)
	if err := c.node(old).Read(readCtx(t, 5*testElection), ReadConsistency{Mode: Lease}); err == nil {
		t.Fatalf("the resumed old leader %s served a lease read; the new leader %s had committed index %d meanwhile",
			old, newLead, res.Index)
	}
}
