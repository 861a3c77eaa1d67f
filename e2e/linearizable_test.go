//go:build unix

package e2e

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mandate-raft/mandate/client"
)

// balanceInput is one operation on the account: a deposit of amount, or
// a read.
type balanceInput struct {
	deposit bool
	amount  int64
}

// balanceOutput is what the operation returned: the balance after the
// deposit (from its acknowledgement) or the balance read. unknown marks a
// deposit whose outcome never became definite.
type balanceOutput struct {
	balance int64
	unknown bool
}

// balanceModel is a single account taking deposits and reads.
func balanceModel(initial int64) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return initial },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(int64), input.(balanceInput), output.(balanceOutput)
			if in.deposit {
				next := s + in.amount
				return out.unknown || out.balance == next, next
			}
			return out.balance == s, s
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(balanceInput), output.(balanceOutput)
			if in.deposit {
				if out.unknown {
					return fmt.Sprintf("deposit(%d) -> ?", in.amount)
				}
				return fmt.Sprintf("deposit(%d) -> %d", in.amount, out.balance)
			}
			return fmt.Sprintf("read() -> %d", out.balance)
		},
	}
}

// balanceHistory records operations for porcupine.
type balanceHistory struct {
	base time.Time

	mu  sync.Mutex
	ops []porcupine.Operation

	reads, writes atomic.Int64 // completed with a definite answer
}

func (h *balanceHistory) now() int64 { return time.Since(h.base).Nanoseconds() }

func (h *balanceHistory) add(client int, in balanceInput, out balanceOutput, call, ret int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret})
}

// writer deposits small amounts through every node in turn; a deposit is
// retried with its request id until its outcome is definite, so it is one
// operation from its first send to its acknowledgement.
func (h *balanceHistory) writer(c *Cluster, account string, id int, stop <-chan struct{}, resolveBy context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		amount := 1 + rng.Int64N(9)
		reqID := fmt.Sprintf("lin-w%d-%d-%s", id, k, client.NewRequestID()[:8])
		call := h.now()
		var bal int64
		err, definite := retryWrite(resolveBy, c.Nodes, id+k, func(ctx context.Context, n *Node) error {
			r, err := n.C.Deposit(ctx, client.DepositRequest{RequestID: reqID, Account: account, Amount: amount})
			bal = r.Balances[account]
			return err
		})
		switch {
		case err == nil:
			h.add(id, balanceInput{deposit: true, amount: amount}, balanceOutput{balance: bal}, call, h.now())
			h.writes.Add(1)
		default:
			// Not acknowledged: it may still take effect at any later
			// time, so it stays open to the end of the history.
			h.add(id, balanceInput{deposit: true, amount: amount}, balanceOutput{unknown: true}, call, math.MaxInt64)
		}
		if !definite {
			return
		}
	}
}

// reader reads the balance linearizably from one node only; failed reads
// have no effect and are left out of the history.
func (h *balanceHistory) reader(n *Node, account string, id int, stop <-chan struct{}, wg *sync.WaitGroup, served *atomic.Int64) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		call := h.now()
		a, err := n.C.Balance(ctx, account, client.Linearizable)
		ret := h.now()
		cancel()
		if err == nil {
			h.add(id, balanceInput{}, balanceOutput{balance: a.Balance}, call, ret)
			h.reads.Add(1)
			served.Add(1)
		} else {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDeposedLeaderServesNoStaleRead records deposits (through any node)
// and linearizable reads (each reader pinned to one node, the deposed
// leader included) while the leader is first cut off from the others past
// an election timeout and healed, then paused with SIGSTOP past an
// election timeout and resumed. porcupine must find the history
// linearizable; a check that times out fails, and so does a run with too
// few operations before the first fault.
func TestDeposedLeaderServesNoStaleRead(t *testing.T) {
	c := StartCluster(t, Options{Nodes: 3, FSM: "ledger"})
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
	stopped := false
	stopClients := func() {
		if !stopped {
			stopped = true
			close(stop)
			t := time.AfterFunc(20*time.Second, cancelResolve)
			wg.Wait()
			t.Stop()
		}
	}
	defer func() { stopClients() }()
	progress := func(reads, writes int64, when string) {
		t.Helper()
		if err := poll(20*time.Second, func() error {
			if r, w := h.reads.Load(), h.writes.Load(); r < reads || w < writes {
				return fmt.Errorf("%d reads and %d deposits done, want %d and %d", r, w, reads, writes)
			}
			return nil
		}); err != nil {
			t.Fatalf("void run: too little progress %s: %v", when, err)
		}
	}
	indexOf := func(n *Node) int {
		for i, x := range c.Nodes {
			if x == n {
				return i
			}
		}
		return -1
	}

	progress(30, 15, "before the first fault")

	// Fault 1: the leader is cut off from both others.
	lead := c.WaitLeader(c.Nodes...)
	t.Logf("isolating leader %s after %d reads, %d deposits", lead.ID, h.reads.Load(), h.writes.Load())
	c.Net.Isolate(lead.ID, c.IDs())
	before := served[indexOf(lead)].Load()
	c.WaitLeader(c.Others(lead)...)
	progress(h.reads.Load()+10, h.writes.Load()+5, "while the old leader was cut off")
	t.Logf("the cut-off old leader %s served %d linearizable reads while isolated", lead.ID, served[indexOf(lead)].Load()-before)
	c.Net.HealAll()
	c.WaitLeader(c.Nodes...)
	progress(h.reads.Load()+10, h.writes.Load()+5, "after the heal")

	// Fault 2: the leader is paused past an election timeout.
	lead = c.WaitLeader(c.Nodes...)
	t.Logf("SIGSTOP leader %s", lead.ID)
	c.Pause(lead)
	c.WaitLeader(c.Others(lead)...)
	progress(h.reads.Load()+10, h.writes.Load()+5, "while the old leader was paused")
	// Reads sent to the paused node wait in its socket and are the first
	// thing it serves when it resumes, while it may still believe it
	// leads: the moment a stale read would happen.
	var burst sync.WaitGroup
	var burstServed atomic.Int64
	for i := range 4 {
		burst.Add(1)
		go func() {
			defer burst.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
			defer cancel()
			call := h.now()
			a, err := lead.C.Balance(ctx, account, client.Linearizable)
			if err == nil {
				h.add(10+i, balanceInput{}, balanceOutput{balance: a.Balance}, call, h.now())
				burstServed.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	c.Resume(lead)
	burst.Wait()
	t.Logf("the resumed old leader %s answered %d of 4 linearizable reads sent while it was paused", lead.ID, burstServed.Load())
	before = served[indexOf(lead)].Load()
	c.WaitLeader(c.Nodes...)
	progress(h.reads.Load()+10, h.writes.Load()+5, "after the old leader resumed")
	t.Logf("the resumed old leader %s served %d linearizable reads after SIGCONT", lead.ID, served[indexOf(lead)].Load()-before)
	stopClients()

	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	t.Logf("checking a history of %d operations (%d reads, %d acknowledged deposits)", len(ops), h.reads.Load(), h.writes.Load())
	res, _ := porcupine.CheckOperationsVerbose(balanceModel(initial), ops, 60*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Fatal("the linearizability check timed out: inconclusive, which is not a pass")
	default:
		t.Fatalf("the history of deposits and linearizable reads is not linearizable (%d operations)", len(ops))
	}
}
