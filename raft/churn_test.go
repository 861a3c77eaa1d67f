package raft

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/transport/inmem"
	"github.com/mandate-raft/mandate/wire"
)

// TestChurnOnALossyNetworkLosesNoAcknowledgedWrite runs clients against a
// 5-node cluster whose network drops, duplicates, delays and reorders
// messages while nodes are stopped and restarted and snapshots are taken. Afterwards every
// acknowledged write is applied everywhere at its index, no write reported
// not-committed was applied anywhere, and all FSMs agree.
// MANDATE_CHURN_ROUNDS sets the number of restart rounds (default 6).
func TestChurnOnALossyNetworkLosesNoAcknowledgedWrite(t *testing.T) {
	rounds := 6
	if s := os.Getenv("MANDATE_CHURN_ROUNDS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			rounds = v
		}
	}
	// Frequent snapshots with a short log tail, so restarted nodes often
	// catch up through snapshot transfers on the faulty network.
	c := newTestCluster(t, 5, withConfig(func(cfg *Config) {
		cfg.SnapshotThreshold = 40
		cfg.SnapshotInterval = 30 * time.Millisecond
		cfg.TrailingLogs = 10
	}))
	c.start(true)
	c.waitLeader()
	c.net.SetDefaultFaults(inmem.Faults{Drop: 0.05, Duplicate: 0.05, DelayMax: 3 * time.Millisecond, Reorder: true})

	var (
		acks     ackLog
		mu       sync.Mutex
		refused  []string
		attempts int
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				running := c.running()
				mu.Unlock()
				id := running[rng.IntN(len(running))]
				mu.Lock()
				n := c.node(id)
				mu.Unlock()
				if n == nil {
					continue
				}
				cmd := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				res, err := n.Apply(ctx, []byte(cmd))
				cancel()
				mu.Lock()
				attempts++
				switch {
				case err == nil:
					acks.add(cmd, res.Index)
				case errors.Is(err, ErrNotCommitted):
					refused = append(refused, cmd)
				case errors.Is(err, ErrOutcomeUnknown):
				default:
					t.Errorf("Apply %s on %s ended with an undocumented error: %v", cmd, id, err)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}(w)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	for r := 0; r < rounds; r++ {
		time.Sleep(2 * testElection)
		victim := c.ids[rng.IntN(len(c.ids))]
		mu.Lock()
		c.stopNode(victim)
		mu.Unlock()
		time.Sleep(testElection)
		mu.Lock()
		c.startNode(victim)
		mu.Unlock()
	}
	close(stop)
	wg.Wait()

	c.net.Heal()
	final := c.applyRetry("final")
	acks.add("final", final.Index)
	c.waitApplied(final.Index)
	c.checkFSMsAgree()
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	for _, cmd := range refused {
		for _, id := range c.ids {
			if c.nodes[id].fsm.contains(cmd) {
				t.Fatalf("%q was reported not committed, but %s applied it", cmd, id)
			}
		}
	}
	acks.mu.Lock()
	acked := len(acks.acks)
	acks.mu.Unlock()
	if acked < 20 {
		t.Fatalf("only %d of %d writes were acknowledged: the run exercised too little to prove anything", acked, attempts)
	}
	t.Logf("%d attempts, %d acknowledged, %d refused; network %+v", attempts, acked, len(refused), c.net.Stats())
	_ = wire.None
}
