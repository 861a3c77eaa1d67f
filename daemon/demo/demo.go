// Package demo runs `mandate demo`: a 3-node ledger cluster of real daemon
// processes on 127.0.0.1, a concurrent transfer workload, a SIGKILL of the
// leader and its return, and a verdict on the ledger's integrity and the
// replicas' agreement.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mandate-raft/mandate/client"
)

// Options configures a demo run. Zero fields take the defaults, which
// finish in about 15 seconds.
type Options struct {
	// Exe is the mandate binary whose `serve --config FILE` runs a node.
	// Default: this process's own executable.
	Exe string
	// Env holds extra environment variables (KEY=value) for the nodes.
	Env []string
	// Duration is the length of the transfer workload. The leader is
	// killed at a third of it and restarted at two thirds. Default 9 s.
	Duration time.Duration
	// Clients is the number of concurrent clients. Default 8.
	Clients int
	// Accounts is the number of accounts. Default 20.
	Accounts int
	// InitialBalance is deposited in each account first. Default 1000.
	InitialBalance int64
	// HeartbeatTimeout and ElectionTimeout are the nodes' Raft timeouts.
	// Defaults 50 ms and 500 ms, so the failover happens within a second.
	HeartbeatTimeout, ElectionTimeout time.Duration
	// Out receives progress and the summary. Default: discarded.
	Out io.Writer
	// Live redraws a single progress line (for terminals); otherwise a
	// progress line is printed every second.
	Live bool
	// KeepDir keeps the working directory (configs, logs, data) instead of
	// removing it, and prints where it is.
	KeepDir bool
	// Dir is where the working directory is created. Default: the system
	// temp dir.
	Dir string
	// CheckTimeout bounds the linearizability check; a check that does not
	// finish in time makes the run inconclusive, never a pass. Default 60 s.
	CheckTimeout time.Duration
}

func (o *Options) setDefaults() error {
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("demo: find own executable: %w", err)
		}
		o.Exe = exe
	}
	if o.Duration <= 0 {
		o.Duration = 9 * time.Second
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	if o.Accounts < 2 {
		o.Accounts = 20
	}
	if o.InitialBalance <= 0 {
		o.InitialBalance = 1000
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 50 * time.Millisecond
	}
	if o.ElectionTimeout <= 0 {
		o.ElectionTimeout = 500 * time.Millisecond
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 60 * time.Second
	}
	return nil
}

// Summary is what a demo run measured and concluded.
type Summary struct {
	// Deposits is the number of accounts funded before the transfers.
	Deposits int `json:"deposits"`
	// Transfers counts acknowledged transfers; Rejected those refused for
	// insufficient funds (a correct outcome); Retries the attempts retried
	// after a transient error (no leader, outcome unknown, node down).
	Transfers uint64 `json:"transfers"`
	Rejected  uint64 `json:"rejected"`
	Retries   uint64 `json:"retries"`
	// Settled counts transfers cut off by the end of the workload whose
	// outcome was learned afterwards by resending them with their ids.
	Settled int `json:"settled"`
	// Workload is how long the transfer workload ran.
	Workload time.Duration `json:"workload_ns"`
	// P50 and P99 are latencies of acknowledged transfers, retries
	// included.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	// Killed is the leader killed with SIGKILL; NewLeader the one elected
	// after it.
	Killed    string `json:"killed"`
	NewLeader string `json:"new_leader"`
	// Recovery is the time from the SIGKILL to the first acknowledged write
	// sent after it.
	Recovery time.Duration `json:"recovery_ns"`
	// Reads counts the linearizable balance reads answered; HistoryOps the
	// operations whose history was checked for linearizability, in
	// CheckTime.
	Reads      uint64        `json:"reads"`
	HistoryOps int           `json:"history_ops"`
	CheckTime  time.Duration `json:"check_ns"`
	// Audit is the final linearizable audit.
	Audit client.Audit `json:"audit"`
	// Verdict is "PASS" or "FAIL: <reason>".
	Verdict string `json:"verdict"`
}

// Run runs the demo and returns its summary. A nil error means the
// verdict is PASS. Cancelling ctx stops it early (every child is stopped
// and the working directory removed either way).
func Run(ctx context.Context, opts Options) (sum Summary, err error) {
	if err := opts.setDefaults(); err != nil {
		return sum, err
	}
	out := opts.Out
	dir, err := os.MkdirTemp(opts.Dir, "mandate-demo-")
	if err != nil {
		return sum, fmt.Errorf("demo: create working directory: %w", err)
	}
	nodes, err := newNodes(dir, 3, opts)
	if err != nil {
		os.RemoveAll(dir)
		return sum, err
	}
	defer func() {
		for _, n := range nodes {
			n.kill(syscall.SIGTERM, 5*time.Second)
		}
		if opts.KeepDir || err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "working directory kept: %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	defer func() {
		if err != nil {
			sum.Verdict = "FAIL: " + err.Error()
			if ctx.Err() != nil {
				sum.Verdict = "FAIL: interrupted"
				err = fmt.Errorf("demo: %w", errInterrupted)
			}
		}
	}()

	fmt.Fprintf(out, "starting a 3-node ledger cluster on 127.0.0.1 (%s)\n", opts.Exe)
	for _, n := range nodes {
		if err := n.start(opts.Exe, opts.Env); err != nil {
			return sum, err
		}
		fmt.Fprintf(out, "  %s: raft %s, http %s\n", n.id, n.raftAddr, n.httpAddr)
	}
	cl := newCluster(nodes)
	defer cl.close()
	lead, err := cl.waitLeader(ctx, 30*time.Second)
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "leader elected: %s\n", lead.id)

	w := newWorkload(cl, opts)
	if err := w.deposit(ctx); err != nil {
		return sum, err
	}
	sum.Deposits = opts.Accounts
	fmt.Fprintf(out, "funded %d accounts with %d each\n", opts.Accounts, opts.InitialBalance)

	if err := runWorkload(ctx, cl, w, opts, &sum); err != nil {
		return sum, err
	}
	settled, err := w.settle(ctx)
	if err != nil {
		return sum, err
	}
	sum.Settled = settled
	fmt.Fprintf(out, "waiting for the replicas to catch up\n")
	if err := cl.waitConverged(ctx, 30*time.Second); err != nil {
		return sum, err
	}
	if err := verify(ctx, cl, opts, w.expected(), &sum); err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "checking that the clients' history is linearizable\n")
	res, n, took, err := w.hist.check(ctx, opts.Accounts, opts.InitialBalance, opts.CheckTimeout)
	if err != nil {
		return sum, err
	}
	sum.Reads, sum.HistoryOps, sum.CheckTime = w.reads.Load(), n, took
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		return sum, fmt.Errorf("the history of %d operations is not linearizable", n)
	default:
		return sum, fmt.Errorf("inconclusive: the linearizability check of %d operations did not finish within %s", n, opts.CheckTimeout)
	}
	sum.Verdict = "PASS"
	printSummary(out, sum, opts)
	return sum, nil
}

// minBeforeFault is the number of acknowledged transfers below which a
// run is void rather than passed.
const minBeforeFault = 20

// runWorkload drives the transfers, kills the leader at a third of the
// duration and restarts it at two thirds.
func runWorkload(ctx context.Context, cl *cluster, w *workload, opts Options, sum *Summary) error {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	done := w.start(wctx)
	prog := newProgress(opts.Out, opts.Live, w, start)
	watched := make(chan struct{})
	go func() { // keep the progress line's leader current
		defer close(watched)
		for sleepCtx(wctx, 300*time.Millisecond) == nil {
			cl.refreshLeader(wctx)
		}
	}()

	phase := 0 // 0: steady; 1: leader killed; 2: restarted
	var killed *node
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var failure error
loop:
	for {
		select {
		case <-ctx.Done():
			failure = ctx.Err()
			break loop
		case <-tick.C:
		}
		if err := cl.unexpectedExit(); err != nil {
			failure = err
			break loop
		}
		if err := w.failure(); err != nil {
			failure = err
			break loop
		}
		elapsed := time.Since(start)
		switch {
		case phase == 0 && elapsed >= opts.Duration/3:
			lead, err := cl.waitLeader(ctx, 10*time.Second)
			if err != nil {
				failure = err
				break loop
			}
			killed = lead
			prog.note(fmt.Sprintf("SIGKILL leader %s", lead.id))
			w.markKill(time.Now())
			lead.kill(syscall.SIGKILL, time.Second)
			cl.setLeader("") // until the survivors elect one
			phase = 1
		case phase == 1 && elapsed >= 2*opts.Duration/3:
			if err := killed.start(opts.Exe, opts.Env); err != nil {
				failure = err
				break loop
			}
			prog.note(fmt.Sprintf("restarted %s", killed.id))
			phase = 2
		case elapsed >= opts.Duration:
			break loop
		}
		prog.update(cl.knownLeader())
	}
	stop()
	<-done
	<-watched
	prog.finish(cl.knownLeader())
	if failure != nil {
		return failure
	}
	if err := w.failure(); err != nil {
		return err
	}
	sum.Workload = time.Since(start)
	sum.Transfers, sum.Rejected, sum.Retries = w.ok.Load(), w.rejected.Load(), w.retries.Load()
	sum.P50, sum.P99 = w.percentile(0.50), w.percentile(0.99)
	if killed != nil {
		sum.Killed = killed.id
		rec, ok := w.recovery()
		if !ok {
			return fmt.Errorf("no write succeeded after leader %s was killed", killed.id)
		}
		sum.Recovery = rec
	}
	// A run that did little before the fault proves nothing about it.
	if before := w.okAtKill.Load(); killed != nil && before < minBeforeFault {
		return fmt.Errorf("void run: only %d transfers were acknowledged before the leader was killed (need %d); use a longer --duration", before, minBeforeFault)
	}
	lead, err := cl.waitLeader(ctx, 15*time.Second)
	if err != nil {
		return err
	}
	sum.NewLeader = lead.id
	return nil
}

// verify checks the ledger's integrity and that the three replicas agree.
// Every balance must be what the deposits and the acknowledged transfers
// imply: no acknowledged write lost, none applied twice.
func verify(ctx context.Context, cl *cluster, opts Options, expected map[string]int64, sum *Summary) error {
	vctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	audit, err := retry(vctx, func() (client.Audit, error) { return cl.any.Audit(vctx, client.Linearizable) })
	if err != nil {
		return fmt.Errorf("final audit: %w", err)
	}
	sum.Audit = audit
	want := int64(opts.Accounts) * opts.InitialBalance
	switch {
	case !audit.Reconciles || audit.Total != audit.Deposited-audit.Withdrawn:
		return fmt.Errorf("audit does not reconcile: total %d, deposited %d, withdrawn %d", audit.Total, audit.Deposited, audit.Withdrawn)
	case audit.Deposited != want:
		return fmt.Errorf("deposited %d, want %d: a deposit was lost or applied twice", audit.Deposited, want)
	case audit.Total != want:
		return fmt.Errorf("total %d, want %d: transfers created or destroyed money", audit.Total, want)
	case audit.Accounts != int64(opts.Accounts):
		return fmt.Errorf("%d accounts, want %d", audit.Accounts, opts.Accounts)
	}
	var first []client.Account
	var firstAudit client.Audit
	for i, n := range cl.nodes {
		c := cl.direct[i]
		a, err := c.Audit(vctx, client.Stale)
		if err != nil {
			return fmt.Errorf("stale audit on %s: %w", n.id, err)
		}
		accts, err := c.AllAccounts(vctx, client.Stale)
		if err != nil {
			return fmt.Errorf("stale account list on %s: %w", n.id, err)
		}
		var total int64
		for _, ac := range accts {
			if ac.Balance < 0 {
				return fmt.Errorf("%s: account %s has a negative balance %d", n.id, ac.ID, ac.Balance)
			}
			total += ac.Balance
		}
		if len(accts) != len(expected) {
			return fmt.Errorf("%s holds %d accounts, want %d", n.id, len(accts), len(expected))
		}
		for _, ac := range accts {
			if want, ok := expected[ac.ID]; !ok || ac.Balance != want {
				return fmt.Errorf("%s: account %s holds %d, but the acknowledged transfers imply %d: a write was lost or applied twice",
					n.id, ac.ID, ac.Balance, want)
			}
		}
		if total != a.Total {
			return fmt.Errorf("%s: balances sum to %d but its audit says %d", n.id, total, a.Total)
		}
		a.AppliedIndex = 0 // replicas may have applied different no-ops; compare the ledger
		if i == 0 {
			first, firstAudit = accts, a
			continue
		}
		if a != firstAudit {
			return fmt.Errorf("replicas disagree: %s audit %+v, %s audit %+v", cl.nodes[0].id, firstAudit, n.id, a)
		}
		if !slices.Equal(accts, first) {
			return fmt.Errorf("replicas disagree on the account list: %s and %s", cl.nodes[0].id, n.id)
		}
	}
	return nil
}

// retry calls f until it succeeds, fails with a non-retryable error, or
// ctx ends.
func retry[T any](ctx context.Context, f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err == nil || !(client.IsRetryable(err) || errors.Is(err, client.ErrNoResponse)) {
			return v, err
		}
		if serr := sleepCtx(ctx, 50*time.Millisecond); serr != nil {
			return v, fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

func printSummary(w io.Writer, s Summary, opts Options) {
	secs := s.Workload.Seconds()
	fmt.Fprintf(w, "\nsummary\n")
	fmt.Fprintf(w, "  workload     %d clients, %.1fs: %d transfers acknowledged (%.0f/s), %d rejected for insufficient funds, %d retries\n",
		opts.Clients, secs, s.Transfers, float64(s.Transfers)/secs, s.Rejected, s.Retries)
	fmt.Fprintf(w, "  latency      p50 %s, p99 %s (acknowledged transfers, retries included)\n", round(s.P50), round(s.P99))
	fmt.Fprintf(w, "  failover     leader %s killed (SIGKILL); writes succeeded again after %s; leader now %s\n", s.Killed, round(s.Recovery), s.NewLeader)
	fmt.Fprintf(w, "  exactly once every balance matches the deposits and the %d acknowledged transfers (%d cut off at the end, settled by resending their request ids)\n", s.Transfers, s.Settled)
	fmt.Fprintf(w, "  audit        %d accounts, total %d = deposited %d - withdrawn %d\n", s.Audit.Accounts, s.Audit.Total, s.Audit.Deposited, s.Audit.Withdrawn)
	fmt.Fprintf(w, "  replicas     3 of 3 agree on the audit and every balance\n")
	fmt.Fprintf(w, "  history      %d transfers and %d linearizable reads are linearizable (porcupine, %s)\n",
		s.HistoryOps-int(s.Reads), s.Reads, round(s.CheckTime))
	fmt.Fprintf(w, "verdict: %s\n", s.Verdict)
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
