//go:build unix

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/logstore/ondisk"
)

// ledgerOp is one write of the ledger workload and what its client
// learned about it.
type ledgerOp struct {
	id       string // request id, the same on every retry
	deposit  bool   // a deposit to `to`; otherwise a transfer from -> to
	from, to string
	amount   int64
	outcome  Outcome
	balances map[string]int64 // the acknowledgement's balances
	err      error            // the last error, for unexpected verdicts
}

// ledgerWorkload runs concurrent transfers (and some deposits) through
// every node of a cluster, each write retried with its request id until a
// definite answer.
type ledgerWorkload struct {
	c        *Cluster
	accounts []string
	acked    atomic.Int64 // acknowledged writes so far

	mu  sync.Mutex
	ops []*ledgerOp
}

func (w *ledgerWorkload) run(stop <-chan struct{}, resolveBy context.Context, worker int, wg *sync.WaitGroup) {
	defer wg.Done()
	rng := rand.New(rand.NewPCG(uint64(worker), uint64(time.Now().UnixNano())))
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		op := &ledgerOp{id: fmt.Sprintf("w%d-%d-%s", worker, k, client.NewRequestID()[:8])}
		if rng.IntN(10) == 0 {
			op.deposit, op.to, op.amount = true, w.accounts[rng.IntN(len(w.accounts))], 1+rng.Int64N(100)
		} else {
			i := rng.IntN(len(w.accounts))
			j := (i + 1 + rng.IntN(len(w.accounts)-1)) % len(w.accounts)
			op.from, op.to, op.amount = w.accounts[i], w.accounts[j], 1+rng.Int64N(400)
		}
		w.mu.Lock()
		w.ops = append(w.ops, op)
		w.mu.Unlock()
		// Once stop is closed the write in flight is still retried until
		// resolveBy: its outcome must become known.
		err, definite := retryWrite(resolveBy, w.c.Nodes, worker+k, func(ctx context.Context, n *Node) error {
			var r client.WriteResponse
			var err error
			if op.deposit {
				r, err = n.C.Deposit(ctx, client.DepositRequest{RequestID: op.id, Account: op.to, Amount: op.amount})
			} else {
				r, err = n.C.Transfer(ctx, client.TransferRequest{RequestID: op.id, From: op.from, To: op.to, Amount: op.amount})
			}
			if err == nil {
				op.balances = r.Balances
			}
			return err
		})
		w.mu.Lock()
		switch {
		case err == nil:
			op.outcome = Applied
			w.acked.Add(1)
		case definite && client.CodeOf(err) == client.CodeInsufficientFunds && !op.deposit:
			op.outcome = Refused
		default:
			op.outcome, op.err = Unknown, err
		}
		w.mu.Unlock()
		if !definite {
			return // resolveBy passed
		}
	}
}

// waitAcked waits until the workload acknowledged at least n writes in
// all, failing the test as void when it did not within d.
func (w *ledgerWorkload) waitAcked(t *testing.T, n int64, d time.Duration, when string) {
	t.Helper()
	if err := poll(d, func() error {
		if got := w.acked.Load(); got < n {
			return fmt.Errorf("%d acknowledged writes, want %d", got, n)
		}
		return nil
	}); err != nil {
		t.Fatalf("void run: too little progress %s: %v", when, err)
	}
}

// TestLedgerSurvivesLeaderAndFollowerKills runs a transfer workload
// through all three nodes, with request ids and retries, while the leader
// and later a follower are killed with SIGKILL and restarted from their
// stores, once with each durable log store engine. At the end the ledger must hold exactly what the
// acknowledged writes say: every write's outcome is made definite by
// retrying it with its request id, so the expected balances are the sums
// of the applied deposits and transfers (order does not matter for sums),
// and a write applied twice, or an acknowledged one lost, shows as a
// wrong balance. Every replica must then report the same ledger.
func TestLedgerSurvivesLeaderAndFollowerKills(t *testing.T) {
	for _, store := range []string{"bolt", "wal"} {
		t.Run(store, func(t *testing.T) { ledgerSurvivesKills(t, store) })
	}
}

func ledgerSurvivesKills(t *testing.T, store string) {
	c := StartCluster(t, Options{Nodes: 3, FSM: "ledger", Store: store})
	w := newLedgerWorkload(t, c)
	stop := w.start(6, 30*time.Second)
	defer stop()

	w.waitAcked(t, 40, 20*time.Second, "before the first fault")

	lead := c.WaitLeader(c.Nodes...)
	t.Logf("SIGKILL leader %s after %d acknowledged writes", lead.ID, w.acked.Load())
	c.Kill(lead)
	c.WaitLeader(c.Others(lead)...)
	w.waitAcked(t, w.acked.Load()+30, 20*time.Second, "after the leader was killed")
	c.Start(lead)

	lead2 := c.WaitLeader(c.Nodes...)
	follower := c.Others(lead2, lead)[0] // not the node killed before, when possible
	t.Logf("SIGKILL follower %s after %d acknowledged writes", follower.ID, w.acked.Load())
	c.Kill(follower)
	w.waitAcked(t, w.acked.Load()+30, 20*time.Second, "after a follower was killed")
	c.Start(follower)
	w.waitAcked(t, w.acked.Load()+30, 20*time.Second, "after the follower came back")

	// Stop issuing writes; those in flight are retried with their
	// request ids until their outcome is known (or 30 s pass).
	stop()

	checkLedger(t, c, w)
	for _, n := range c.Nodes {
		if got, err := ondisk.Detect(filepath.Join(n.Dir, "raft")); err != nil || got != store {
			t.Fatalf("%s's data directory holds a %q log (%v), want %s", n.ID, got, err, store)
		}
	}
}

// newLedgerWorkload opens the workload's accounts with an acknowledged
// deposit each.
func newLedgerWorkload(t *testing.T, c *Cluster) *ledgerWorkload {
	t.Helper()
	w := &ledgerWorkload{c: c, accounts: []string{"acct-a", "acct-b", "acct-c", "acct-d", "acct-e"}}
	const initial = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, a := range w.accounts {
		op := &ledgerOp{id: "open-" + a, deposit: true, to: a, amount: initial}
		err, _ := retryWrite(ctx, c.Nodes, i, func(ctx context.Context, n *Node) error {
			r, err := n.C.Deposit(ctx, client.DepositRequest{RequestID: op.id, Account: a, Amount: initial})
			op.balances = r.Balances
			return err
		})
		if err != nil {
			t.Fatalf("opening deposit to %s: %v", a, err)
		}
		op.outcome = Applied
		w.ops = append(w.ops, op)
	}
	return w
}

// start runs n workers until the returned stop function is called; stop
// then waits until every write in flight has a definite outcome, or
// resolveWithin passed.
func (w *ledgerWorkload) start(n int, resolveWithin time.Duration) (stop func()) {
	stopCh := make(chan struct{})
	resolveBy, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go w.run(stopCh, resolveBy, i, &wg)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stopCh)
			timer := time.AfterFunc(resolveWithin, cancel)
			wg.Wait()
			timer.Stop()
			cancel()
		})
	}
}

// checkLedger compares the cluster's final ledger with the model of the
// workload's outcomes, on every replica.
func checkLedger(t *testing.T, c *Cluster, w *ledgerWorkload) {
	t.Helper()
	var applied, refused int
	var unknown []*ledgerOp
	want := map[string]int64{}
	var deposited int64
	for _, op := range w.ops {
		switch op.outcome {
		case Applied:
			applied++
			applyOp(want, &deposited, op, 1)
		case Refused:
			refused++
		case Unknown:
			unknown = append(unknown, op)
			if client.CodeOf(op.err) != "" && !transient(op.err) {
				t.Errorf("write %s got an unexpected verdict: %v", op.id, op.err)
			}
		}
	}
	t.Logf("workload: %d writes applied, %d refused for insufficient funds, %d outcome unknown", applied, refused, len(unknown))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := c.Client()
	defer cl.Close()
	var audit client.Audit
	var accounts []client.Account
	c.Eventually("a linearizable audit and account list", 30*time.Second, func() error {
		var err error
		if audit, err = cl.Audit(ctx, client.Linearizable); err != nil {
			return err
		}
		accounts, err = cl.AllAccounts(ctx, client.Linearizable)
		return err
	})
	got := map[string]int64{}
	for _, a := range accounts {
		got[a.ID] = a.Balance
		if a.Balance < 0 {
			t.Errorf("account %s has a negative balance %d", a.ID, a.Balance)
		}
	}
	if !audit.Reconciles || audit.Total != audit.Deposited-audit.Withdrawn || audit.Withdrawn != 0 {
		t.Errorf("audit does not reconcile: %+v", audit)
	}

	// Each unknown write was applied once or not at all: some choice of
	// them must explain the ledger exactly.
	if len(unknown) > 12 {
		t.Fatalf("%d writes of unknown outcome: too many to check every combination (the workload resolves them by retrying; this is a liveness failure)", len(unknown))
	}
	found := false
	for mask := 0; mask < 1<<len(unknown) && !found; mask++ {
		m := map[string]int64{}
		for k, v := range want {
			m[k] = v
		}
		dep := deposited
		for i, op := range unknown {
			if mask&(1<<i) != 0 {
				applyOp(m, &dep, op, 1)
			}
		}
		found = reflect.DeepEqual(m, got) && dep == audit.Deposited
	}
	if !found {
		t.Errorf("the ledger is not explained by the acknowledged writes each applied once (and the %d unknown ones at most once):\n got balances %v, deposited %d\nwant balances %v, deposited %d (unknown writes left out)",
			len(unknown), got, audit.Deposited, want, deposited)
	}

	// A retry of an acknowledged write, even now, is answered with its
	// first result and moves no money.
	retried := 0
	for _, op := range w.ops {
		if op.outcome != Applied || op.balances == nil || retried >= 40 {
			continue
		}
		retried++
		var r client.WriteResponse
		var err error
		if op.deposit {
			r, err = cl.Deposit(ctx, client.DepositRequest{RequestID: op.id, Account: op.to, Amount: op.amount})
		} else {
			r, err = cl.Transfer(ctx, client.TransferRequest{RequestID: op.id, From: op.from, To: op.to, Amount: op.amount})
		}
		if err != nil || !reflect.DeepEqual(r.Balances, op.balances) {
			t.Errorf("retry of acknowledged write %s: got %v %v, want the first answer %v", op.id, r.Balances, err, op.balances)
		}
	}
	after, err := cl.Audit(ctx, client.Linearizable)
	if err != nil || after.Total != audit.Total || after.Deposited != audit.Deposited {
		t.Errorf("retrying %d acknowledged writes changed the ledger: before %+v, after %+v (%v)", retried, audit, after, err)
	}
	checkReplicasAgree(t, c, after)
}

// applyOp adds op's effect, times k, to balances and the deposited sum.
func applyOp(balances map[string]int64, deposited *int64, op *ledgerOp, k int64) {
	if op.deposit {
		balances[op.to] += k * op.amount
		*deposited += k * op.amount
		return
	}
	balances[op.from] -= k * op.amount
	balances[op.to] += k * op.amount
}

// checkReplicasAgree waits until every node applied as far as ref's
// replica had, then requires each node's own (stale) audit and accounts to
// equal ref's.
func checkReplicasAgree(t *testing.T, c *Cluster, ref client.Audit) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var first []client.Account
	for i, n := range c.Nodes {
		var a client.Audit
		var accts []client.Account
		c.Eventually(n.ID+" catching up", 20*time.Second, func() error {
			var err error
			if a, err = n.C.Audit(ctx, client.Stale); err != nil {
				return err
			}
			if a.AppliedIndex < ref.AppliedIndex {
				return fmt.Errorf("%s applied %d < %d", n.ID, a.AppliedIndex, ref.AppliedIndex)
			}
			accts, err = n.C.AllAccounts(ctx, client.Stale)
			return err
		})
		a.AppliedIndex = ref.AppliedIndex // no-op entries may have followed
		if a != ref {
			t.Errorf("%s's audit %+v differs from %+v", n.ID, a, ref)
		}
		if i == 0 {
			first = accts
		} else if !reflect.DeepEqual(accts, first) {
			t.Errorf("%s's accounts %v differ from %s's %v", n.ID, accts, c.Nodes[0].ID, first)
		}
	}
}
