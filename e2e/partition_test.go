//go:build unix

package e2e

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// TestPartialPartitionKeepsOneStableLeader cuts a five-node cluster so
// that n1, n2 and n3 see each other, n4 sees only n2 and n5 only n3. Pre-vote
// and check-quorum together must leave one leader among n1..n3 that stays
// in office at one term for many election timeouts, while n4 and n5 never
// lead nor push the term up, and writes keep committing. Then an
// asymmetric link: once the leader can still send but no longer receive,
// it must step down and the others elect another.
func TestPartialPartitionKeepsOneStableLeader(t *testing.T) {
	c := StartCluster(t, Options{Nodes: 5, FSM: "ledger"})
	// With n1 leading, neither n4 nor n5 hears the leader once cut, so
	// both keep trying to start elections: the hardest case.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if r, err := c.Client().TransferLeadership(ctx, "n1"); err != nil {
		t.Logf("leadership transfer to n1 failed (%v); the test goes on with the leader there is", err)
	} else {
		t.Logf("leadership transferred to %s", r.LeaderID)
	}
	cancel()
	meshed := map[[2]string]bool{
		{"n1", "n2"}: true, {"n1", "n3"}: true, {"n2", "n3"}: true,
		{"n2", "n4"}: true, {"n3", "n5"}: true,
	}
	ids := c.IDs()
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if !meshed[[2]string{a, b}] {
				c.Net.CutBoth(a, b)
			}
		}
	}
	core := []*Node{c.Node("n1"), c.Node("n2"), c.Node("n3")}
	lead := c.WaitLeader(core...)
	// Let a leader cut off among n4/n5, if there was one, notice it.
	var term uint64
	c.Eventually("n4 and n5 not leading, and the core's term settled", 10*time.Second, func() error {
		for _, n := range c.Nodes {
			st, err := c.Status(n)
			if err != nil {
				return err
			}
			if st.State == "Leader" && n != lead {
				return fmt.Errorf("%s still says it leads", n.ID)
			}
			if n == lead {
				term = st.Term
			}
		}
		if l, _, err := c.leaderAmong(core); err != nil || l != lead {
			return fmt.Errorf("the core's leader changed from %s: %v", lead.ID, err)
		}
		return nil
	})
	t.Logf("leader %s at term %d; watching for 10 election timeouts", lead.ID, term)

	// Writes go through the leader's followers in the core while we watch.
	writes := 0
	deadline := time.Now().Add(10 * c.opts.ElectionTimeout)
	for time.Now().Before(deadline) {
		for _, n := range c.Nodes {
			st, err := c.Status(n)
			if err != nil {
				t.Fatalf("status of %s: %v", n.ID, err)
			}
			if st.State == "Leader" && n != lead {
				t.Fatalf("%s leads at term %d besides %s", n.ID, st.Term, lead.ID)
			}
			if st.Term > term {
				t.Fatalf("%s is at term %d, above the stable leader's %d: the partial partition disrupted the cluster", n.ID, st.Term, term)
			}
			if n == lead && (st.State != "Leader" || st.Term != term) {
				t.Fatalf("%s lost its leadership: now %s at term %d", n.ID, st.State, st.Term)
			}
			if (n.ID == "n1" || n.ID == "n2" || n.ID == "n3") && st.LeaderID != lead.ID {
				t.Fatalf("%s names %q as leader, not %s", n.ID, st.LeaderID, lead.ID)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := core[writes%3].C.Deposit(ctx, client.DepositRequest{Account: "p", Amount: 1})
		cancel()
		if err != nil {
			for _, n := range c.Nodes {
				st, serr := c.Status(n)
				t.Logf("%s now: %s term %d leader %q commit %d (%v)", n.ID, st.State, st.Term, st.LeaderID, st.CommitIndex, serr)
			}
			t.Fatalf("a write through %s failed under the partial partition: %v", core[writes%3].ID, err)
		}
		writes++
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d writes committed under the partial partition, one leader throughout", writes)

	// Asymmetric link: the leader keeps sending, hears nothing back.
	c.Net.HealAll()
	lead = c.WaitLeader(c.Nodes...)
	for _, n := range c.Others(lead) {
		c.Net.Cut(Link{From: n.ID, To: lead.ID})
	}
	t.Logf("%s can send but no longer receive", lead.ID)
	c.Eventually(lead.ID+" stepping down", 10*time.Second, func() error {
		st, err := c.Status(lead)
		if err != nil {
			return err
		}
		if st.State == "Leader" {
			return fmt.Errorf("%s still leads at term %d", lead.ID, st.Term)
		}
		return nil
	})
	newLead := c.WaitLeader(c.Others(lead)...)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := newLead.C.Deposit(ctx, client.DepositRequest{Account: "p", Amount: 1}); err != nil {
		t.Fatalf("a write through the new leader %s: %v", newLead.ID, err)
	}
	c.Net.HealAll()
	c.WaitLeader(c.Nodes...)
}

// commitSample is one node's commit index as its run-th process reported
// it.
type commitSample struct {
	node   string
	run    int
	commit uint64
}

// commitWatch samples every node's /v1/status in the background.
type commitWatch struct {
	mu      sync.Mutex
	samples []commitSample
}

func (n *Node) run() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runs
}

func (cw *commitWatch) watch(c *Cluster, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-time.After(25 * time.Millisecond):
		}
		for _, n := range c.Nodes {
			run := n.run()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			st, err := n.C.NodeStatus(ctx, n.HTTPAddr)
			cancel()
			if err != nil || n.run() != run {
				continue // down, starting, or restarted meanwhile
			}
			cw.mu.Lock()
			cw.samples = append(cw.samples, commitSample{node: n.ID, run: run, commit: st.CommitIndex})
			cw.mu.Unlock()
		}
	}
}

// violations lists every decrease of a node's commit index within one
// process, and across the restarts after a clean stop (cleanRuns holds,
// per node, the runs that began after a SIGTERM).
func (cw *commitWatch) violations(cleanRuns map[string]map[int]bool) []string {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	last := map[string]commitSample{}
	var out []string
	for _, s := range cw.samples {
		prev, seen := last[s.node]
		last[s.node] = s
		if !seen || s.commit >= prev.commit {
			continue
		}
		if s.run == prev.run {
			out = append(out, fmt.Sprintf("%s (run %d) reported commit index %d after %d", s.node, s.run, s.commit, prev.commit))
		} else if cleanRuns[s.node][s.run] {
			out = append(out, fmt.Sprintf("%s restarted after SIGTERM (run %d) with commit index %d, below the %d it reported before", s.node, s.run, s.commit, prev.commit))
		}
	}
	return out
}

// highest is the largest commit index any node reported so far.
func (cw *commitWatch) highest() uint64 {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	var h uint64
	for _, s := range cw.samples {
		h = max(h, s.commit)
	}
	return h
}

// TestCrashAndRestartAllNodes kills every node (and, in between, a
// majority including the leader) with SIGKILL while writes are in flight,
// restarting them from their data each time, and once stops them all with
// SIGTERM. Nothing may be applied twice and no acknowledged write lost
// (the ledger model of TestLedgerSurvivesLeaderAndFollowerKills). The
// commit index never goes backwards: within a process; across a clean
// restart (the node writes its commit index at shutdown); and for the
// cluster across crashes, where a node may restart from an older commit
// hint (the runtime writes the commit index lazily, raft/persist.go) but
// the first write after the restart must land above every index reported
// committed before, and every node must climb back past it.
func TestCrashAndRestartAllNodes(t *testing.T) {
	c := StartCluster(t, Options{Nodes: 3, FSM: "ledger"})
	cw := &commitWatch{}
	stopWatch, watchDone := make(chan struct{}), make(chan struct{})
	go cw.watch(c, stopWatch, watchDone)
	watching := true
	stopWatching := func() {
		if watching {
			watching = false
			close(stopWatch)
			<-watchDone
		}
	}
	defer stopWatching()

	w := newLedgerWorkload(t, c)
	stop := w.start(4, 30*time.Second)
	defer stop()
	w.waitAcked(t, 40, 20*time.Second, "before the first crash")

	cleanRuns := map[string]map[int]bool{}
	probes := 0
	cycle := func(nodes []*Node, sig syscall.Signal, what string) {
		t.Helper()
		t.Logf("%s to %s (%v) after %d acknowledged writes", map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM"}[sig], what, c.IDs(nodes...), w.acked.Load())
		for _, n := range nodes {
			if err := n.signal(sig); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range nodes {
			n.wait(t, 20*time.Second)
			if sig == syscall.SIGTERM && n.ExitErr() != nil {
				t.Errorf("%s exited with %v after SIGTERM", n.ID, n.ExitErr())
			}
		}
		// Nothing commits while a majority is down: this is the cluster's
		// commit index at the crash.
		before := cw.highest()
		for _, n := range nodes {
			c.Start(n)
			if sig == syscall.SIGTERM {
				if cleanRuns[n.ID] == nil {
					cleanRuns[n.ID] = map[int]bool{}
				}
				cleanRuns[n.ID][n.run()] = true
			}
		}
		c.WaitLeader(c.Nodes...)
		probes++
		probe := &ledgerOp{id: fmt.Sprintf("probe-%d", probes), deposit: true, to: "probe", amount: 1}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var r client.WriteResponse
		err, _ := retryWrite(ctx, c.Nodes, probes, func(ctx context.Context, n *Node) error {
			var err error
			r, err = n.C.Deposit(ctx, client.DepositRequest{RequestID: probe.id, Account: probe.to, Amount: probe.amount})
			return err
		})
		cancel()
		if err != nil {
			t.Fatalf("a write after restarting %s: %v", what, err)
		}
		probe.outcome, probe.balances = Applied, r.Balances
		w.mu.Lock()
		w.ops = append(w.ops, probe)
		w.mu.Unlock()
		if r.Index <= before {
			t.Errorf("after restarting %s the first write committed at index %d, not above the %d reported committed before", what, r.Index, before)
		}
		for _, n := range c.Nodes {
			c.Eventually(n.ID+" climbing back past the commit index before the crash", 20*time.Second, func() error {
				st, err := c.Status(n)
				if err != nil {
					return err
				}
				if st.CommitIndex < before {
					return fmt.Errorf("%s at commit index %d < %d", n.ID, st.CommitIndex, before)
				}
				return nil
			})
		}
		w.waitAcked(t, w.acked.Load()+30, 30*time.Second, "after restarting "+what)
	}
	cycle(c.Nodes, syscall.SIGKILL, "all nodes")
	lead := c.WaitLeader(c.Nodes...)
	cycle([]*Node{lead, c.Others(lead)[0]}, syscall.SIGKILL, "the leader and a follower")
	cycle(c.Nodes, syscall.SIGKILL, "all nodes")
	cycle(c.Nodes, syscall.SIGTERM, "all nodes")
	stop()
	stopWatching()

	cw.mu.Lock()
	t.Logf("%d status samples", len(cw.samples))
	cw.mu.Unlock()
	for _, v := range cw.violations(cleanRuns) {
		t.Errorf("commit index went backwards: %s", v)
	}
	checkLedger(t, c, w)
}
