package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// workload is the demo's clients: deposits first, then random transfers,
// each retried with its request id until it is acknowledged or refused.
type workload struct {
	cl   *cluster
	opts Options

	ok, rejected, retries atomic.Uint64
	reads                 atomic.Uint64 // linearizable reads answered
	killAt                atomic.Int64  // unix nanos of the SIGKILL, 0 before
	firstOKAfterKill      atomic.Int64  // unix nanos, 0 until one

	okAtKill atomic.Uint64 // acknowledged transfers before the fault

	mu        sync.Mutex
	latencies []time.Duration
	err       error // first unexpected error
	// delta is every account's net change by acknowledged transfers, so
	// the final balances can be checked one by one: a lost acknowledged
	// transfer or one applied twice shows up there.
	delta map[string]int64
	// pending are transfers abandoned when the workload ended, whose fate
	// settle learns by resending them with their request ids.
	pending []client.TransferRequest
	// hist records every operation for the linearizability check.
	hist *history
}

func newWorkload(cl *cluster, opts Options) *workload {
	return &workload{cl: cl, opts: opts, delta: map[string]int64{}}
}

func account(i int) string { return fmt.Sprintf("acct-%03d", i) }

// deposit funds every account, retrying each deposit with its request id.
func (w *workload) deposit(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := range w.opts.Accounts {
		req := client.DepositRequest{RequestID: client.NewRequestID(), Account: account(i), Amount: w.opts.InitialBalance}
		if _, err := retry(dctx, func() (client.WriteResponse, error) { return w.cl.any.Deposit(dctx, req) }); err != nil {
			return fmt.Errorf("deposit into %s: %w", req.Account, err)
		}
	}
	return nil
}

// start runs the transfer clients until ctx ends; the returned channel is
// closed when they all stopped.
func (w *workload) start(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	w.hist = newHistory(time.Now())
	var wg sync.WaitGroup
	for i := range w.opts.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := w.cl.clientFrom(i)
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				w.transfer(ctx, i, c, rng)
			}
		}()
	}
	// One more client reads balances linearizably, for the history.
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.read(ctx, w.opts.Clients)
	}()
	go func() { wg.Wait(); close(done) }()
	return done
}

// transfer performs one random transfer to completion: acknowledged,
// refused for insufficient funds, or abandoned because the workload ended.
func (w *workload) transfer(ctx context.Context, ci int, c *client.Client, rng *rand.Rand) {
	from := rng.IntN(w.opts.Accounts)
	to := (from + 1 + rng.IntN(w.opts.Accounts-1)) % w.opts.Accounts
	req := client.TransferRequest{
		RequestID: client.NewRequestID(),
		From:      account(from), To: account(to),
		Amount: 1 + rng.Int64N(w.opts.InitialBalance/4+1),
	}
	in := transferIn{from: from, to: to, amount: req.Amount}
	start := time.Now()
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := c.Transfer(actx, req)
		cancel()
		switch {
		case err == nil:
			w.hist.add(ci, in, transferOut{ok: true, fromBal: resp.Balances[req.From], toBal: resp.Balances[req.To]}, start, time.Now())
			w.ok.Add(1)
			now := time.Now()
			if k := w.killAt.Load(); k != 0 && start.UnixNano() > k {
				w.firstOKAfterKill.CompareAndSwap(0, now.UnixNano())
			}
			w.mu.Lock()
			w.latencies = append(w.latencies, now.Sub(start))
			w.delta[req.From] -= req.Amount
			w.delta[req.To] += req.Amount
			w.mu.Unlock()
			return
		case client.CodeOf(err) == client.CodeInsufficientFunds:
			w.hist.add(ci, in, transferOut{}, start, time.Now())
			w.rejected.Add(1)
			return
		case ctx.Err() != nil:
			// The workload ended with this transfer's outcome unknown.
			w.hist.abandon(ci, req.RequestID, in, start)
			w.mu.Lock()
			w.pending = append(w.pending, req)
			w.mu.Unlock()
			return
		case client.IsRetryable(err) || errors.Is(err, client.ErrNoResponse) || errors.Is(err, context.DeadlineExceeded):
			w.retries.Add(1)
			backoff := time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond
			if sleepCtx(ctx, backoff) != nil {
				return
			}
		default:
			w.fail(fmt.Errorf("transfer %s -> %s refused unexpectedly: %w", req.From, req.To, err))
			return
		}
	}
}

// read reads random balances linearizably until ctx ends, recording
// each answered read; a read that failed had no effect and is left out.
func (w *workload) read(ctx context.Context, ci int) {
	c := w.cl.clientFrom(ci)
	rng := rand.New(rand.NewPCG(uint64(ci), uint64(time.Now().UnixNano())))
	for ctx.Err() == nil {
		acct := rng.IntN(w.opts.Accounts)
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		a, err := c.Balance(rctx, account(acct), client.Linearizable)
		cancel()
		if err == nil {
			w.reads.Add(1)
			w.hist.add(ci, readIn{acct: acct}, readOut{bal: a.Balance}, start, time.Now())
		}
		// A read every 20 ms or so keeps the history small enough to
		// check in seconds while still sampling the whole run.
		if sleepCtx(ctx, 20*time.Millisecond) != nil {
			return
		}
	}
}

func (w *workload) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *workload) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *workload) markKill(t time.Time) {
	w.okAtKill.Store(w.ok.Load())
	w.killAt.Store(t.UnixNano())
}

// settle resends every transfer abandoned at the end of the workload with
// its request id, so that its outcome becomes known: the ledger answers a
// request it already applied with the remembered result, and applies one
// it never saw. Afterwards every transfer's effect is known.
func (w *workload) settle(ctx context.Context) (int, error) {
	w.mu.Lock()
	pending := w.pending
	w.pending = nil
	w.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, req := range pending {
		resp, err := retry(sctx, func() (client.WriteResponse, error) { return w.cl.any.Transfer(sctx, req) })
		switch {
		case err == nil:
			w.hist.resolve(req.RequestID, transferOut{ok: true, fromBal: resp.Balances[req.From], toBal: resp.Balances[req.To]}, time.Now())
			w.mu.Lock()
			w.delta[req.From] -= req.Amount
			w.delta[req.To] += req.Amount
			w.mu.Unlock()
		case client.CodeOf(err) == client.CodeInsufficientFunds:
			w.hist.resolve(req.RequestID, transferOut{}, time.Now())
		default:
			return 0, fmt.Errorf("settle transfer %s: %w", req.RequestID, err)
		}
	}
	return len(pending), nil
}

// expected returns every account's balance implied by the deposits and
// the acknowledged transfers.
func (w *workload) expected() map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int64, w.opts.Accounts)
	for i := range w.opts.Accounts {
		out[account(i)] = w.opts.InitialBalance + w.delta[account(i)]
	}
	return out
}

// recovery returns the time from the kill to the first acknowledged
// transfer that was sent after it.
func (w *workload) recovery() (time.Duration, bool) {
	k, ok := w.killAt.Load(), w.firstOKAfterKill.Load()
	if k == 0 || ok == 0 {
		return 0, false
	}
	return time.Duration(ok - k), true
}

func (w *workload) percentile(p float64) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.latencies) == 0 {
		return 0
	}
	s := slices.Clone(w.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// progress prints the workload's live progress line.
type progress struct {
	out   io.Writer
	live  bool
	w     *workload
	start time.Time
	last  time.Time
	width int
}

func newProgress(out io.Writer, live bool, w *workload, start time.Time) *progress {
	return &progress{out: out, live: live, w: w, start: start}
}

// note prints an event on its own line.
func (p *progress) note(s string) {
	p.clear()
	fmt.Fprintf(p.out, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), s)
}

func (p *progress) line(leader string) string {
	el := time.Since(p.start).Seconds()
	ok := p.w.ok.Load()
	if leader == "" {
		leader = "none"
	}
	return fmt.Sprintf("[%5.1fs] transfers: %d ok (%.0f/s), %d rejected, %d retries | leader %s",
		el, ok, float64(ok)/max(el, 0.001), p.w.rejected.Load(), p.w.retries.Load(), leader)
}

func (p *progress) update(leader string) {
	now := time.Now()
	if p.live {
		if now.Sub(p.last) < 200*time.Millisecond {
			return
		}
		p.last = now
		s := p.line(leader)
		pad := ""
		if len(s) < p.width {
			pad = strings.Repeat(" ", p.width-len(s))
		}
		p.width = len(s)
		fmt.Fprintf(p.out, "\r%s%s", s, pad)
		return
	}
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	fmt.Fprintln(p.out, p.line(leader))
}

func (p *progress) clear() {
	if p.live && p.width > 0 {
		fmt.Fprintf(p.out, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

func (p *progress) finish(leader string) {
	p.clear()
	fmt.Fprintln(p.out, p.line(leader))
}
