//go:build unix

package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mandate-raft/mandate/client"
)

// chaosDuration returns how long the opt-in chaos tests run, skipping the
// test unless MANDATE_E2E_CHAOS=1. MANDATE_E2E_CHAOS_DURATION (a Go
// duration, default 60s) sets the length and MANDATE_E2E_SEED the
// nemesis's seed.
func chaosDuration(t *testing.T) (time.Duration, uint64) {
	t.Helper()
	if os.Getenv("MANDATE_E2E_CHAOS") != "1" {
		t.Skip("long randomized fault run; set MANDATE_E2E_CHAOS=1")
	}
	d := 60 * time.Second
	if v := os.Getenv("MANDATE_E2E_CHAOS_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("MANDATE_E2E_CHAOS_DURATION: %v", err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("MANDATE_E2E_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("MANDATE_E2E_SEED: %v", err)
		}
	}
	t.Logf("chaos for %v with nemesis seed %d (MANDATE_E2E_SEED=%d replays the same sequence of faults, not their exact timing)", d, seed, seed)
	return d, seed
}

// nemesis injects one random fault after another for d: SIGKILL and
// restart, SIGSTOP and SIGCONT, an isolated node, a minority partition
// containing the leader, links cut one way, and slow links. Each fault
// lasts up to a few election timeouts and is undone before the next.
// When it returns every node runs and the network is whole.
func nemesis(t *testing.T, c *Cluster, d time.Duration, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	et := c.opts.ElectionTimeout
	hold := func() { time.Sleep(et/2 + time.Duration(rng.Int64N(int64(3*et)))) }
	ids := c.IDs()
	for end := time.Now().Add(d); time.Now().Before(end); {
		n := c.Nodes[rng.IntN(len(c.Nodes))]
		switch rng.IntN(6) {
		case 0:
			t.Logf("nemesis: SIGKILL %s", n.ID)
			c.Kill(n)
			hold()
			c.Start(n)
		case 1:
			t.Logf("nemesis: SIGSTOP %s", n.ID)
			c.Pause(n)
			hold()
			c.Resume(n)
		case 2:
			t.Logf("nemesis: isolate %s", n.ID)
			c.Net.Isolate(n.ID, ids)
			hold()
		case 3:
			// The leader (as n sees it) and at most a minority with it.
			st, err := c.Status(n)
			if err != nil || st.LeaderID == "" {
				continue
			}
			minority := []string{st.LeaderID}
			for _, o := range rng.Perm(len(ids)) {
				if len(minority) < (len(ids)-1)/2 && ids[o] != st.LeaderID {
					minority = append(minority, ids[o])
				}
			}
			t.Logf("nemesis: partition the leader's minority %v from the rest", minority)
			in := map[string]bool{}
			for _, id := range minority {
				in[id] = true
			}
			for _, a := range ids {
				for _, b := range ids {
					if in[a] && !in[b] {
						c.Net.CutBoth(a, b)
					}
				}
			}
			hold()
		case 4:
			var cut []Link
			for range 1 + rng.IntN(len(ids)) {
				a, b := ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]
				if a != b {
					cut = append(cut, Link{From: a, To: b})
				}
			}
			t.Logf("nemesis: cut one way %v", cut)
			c.Net.Cut(cut...)
			hold()
		case 5:
			delay := time.Duration(20+rng.IntN(300)) * time.Millisecond
			t.Logf("nemesis: delay every link out of %s by %v", n.ID, delay)
			for _, o := range ids {
				if o != n.ID {
					c.Net.Delay(Link{From: n.ID, To: o}, delay)
				}
			}
			hold()
		}
		c.Net.HealAll()
		time.Sleep(time.Duration(rng.Int64N(int64(et))))
	}
}

// TestChaosLedger runs the ledger workload of
// TestLedgerSurvivesLeaderAndFollowerKills on five nodes under the
// nemesis, then checks the same model and replica agreement.
func TestChaosLedger(t *testing.T) {
	d, seed := chaosDuration(t)
	c := StartCluster(t, Options{Nodes: 5, FSM: "ledger"})
	w := newLedgerWorkload(t, c)
	stop := w.start(8, 60*time.Second)
	defer stop()
	w.waitAcked(t, 40, 20*time.Second, "before the nemesis")
	nemesis(t, c, d, seed)
	c.WaitLeader(c.Nodes...)
	w.waitAcked(t, w.acked.Load()+20, 30*time.Second, "after the nemesis")
	stop()
	checkLedger(t, c, w)
}

// TestChaosLock runs the lock clients of TestLockHoldersNeverOverlap on
// five nodes under the nemesis.
func TestChaosLock(t *testing.T) {
	d, seed := chaosDuration(t)
	c := StartCluster(t, Options{Nodes: 5, FSM: "lock"})
	lc := &lockClients{c: c, name: "job", ttl: lockTTL, margin: lockMargin}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go lc.run(stop, i, &wg)
	}
	once := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer once()
	nemesis(t, c, d, seed)
	c.WaitLeader(c.Nodes...)
	before := lc.count()
	if err := poll(30*time.Second, func() error {
		if lc.count() < before+4 {
			return errNoLeader
		}
		return nil
	}); err != nil {
		t.Fatalf("the lock made no progress after the nemesis: %d holdings", lc.count())
	}
	once()
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, err := range lc.unexpected {
		t.Errorf("unexpected answer: %v", err)
	}
	t.Logf("%d holdings checked", len(lc.holdings))
	if len(lc.holdings) < 10 {
		t.Fatalf("void run: only %d holdings", len(lc.holdings))
	}
	for _, v := range holdingViolations(lc.holdings) {
		t.Error(v)
	}
}

// TestChaosLinearizable records deposits and linearizable reads through
// every node of five under the nemesis and checks the history with
// porcupine; a check that times out fails.
func TestChaosLinearizable(t *testing.T) {
	d, seed := chaosDuration(t)
	c := StartCluster(t, Options{Nodes: 5, FSM: "ledger"})
	const account, initial = "lin-x", 1000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err, _ := retryWrite(ctx, c.Nodes, 0, func(ctx context.Context, n *Node) error {
		_, err := n.C.Deposit(ctx, client.DepositRequest{RequestID: "lin-open", Account: account, Amount: initial})
		return err
	}); err != nil {
		t.Fatalf("opening deposit: %v", err)
	}
	h := &balanceHistory{base: time.Now()}
	stop := make(chan struct{})
	resolveBy, cancelResolve := context.WithCancel(context.Background())
	defer cancelResolve()
	var wg sync.WaitGroup
	served := make([]atomic.Int64, len(c.Nodes))
	for i := range 3 {
		wg.Add(1)
		go h.writer(c, account, i, stop, resolveBy, &wg)
	}
	for i, n := range c.Nodes {
		wg.Add(1)
		go h.reader(n, account, 3+i, stop, &wg, &served[i])
	}
	once := sync.OnceFunc(func() {
		close(stop)
		timer := time.AfterFunc(30*time.Second, cancelResolve)
		wg.Wait()
		timer.Stop()
	})
	defer once()
	if err := poll(20*time.Second, func() error {
		if h.reads.Load() < 30 || h.writes.Load() < 15 {
			return errNoLeader
		}
		return nil
	}); err != nil {
		t.Fatalf("void run: %d reads and %d deposits before the nemesis", h.reads.Load(), h.writes.Load())
	}
	nemesis(t, c, d, seed)
	c.WaitLeader(c.Nodes...)
	once()
	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	t.Logf("checking a history of %d operations (%d reads, %d acknowledged deposits)", len(ops), h.reads.Load(), h.writes.Load())
	switch porcupine.CheckOperationsTimeout(balanceModel(initial), ops, 5*time.Minute) {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Fatal("the linearizability check timed out: inconclusive, which is not a pass")
	default:
		t.Fatalf("the history of deposits and linearizable reads is not linearizable (%d operations)", len(ops))
	}
}
