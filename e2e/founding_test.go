//go:build unix

package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// What a founding node writes to its log when it finds, on a start with
// blank stores, that the cluster formed without it; and when it founds
// the cluster. Both are raft/founding.go's and raft/node.go's messages.
const (
	logGaveUpFounding = "bootstrap: not writing the founding configuration"
	logAskedFounders  = "bootstrap: asking the other founding members"
	logBootstrapped   = "mandate.raft: bootstrapped:"
	logRestoredSnap   = "restored FSM from snapshot"
)

// TestWipedFoundingMemberRestartedWithBootstrapRepairsItself runs a
// 3-node ledger cluster founded with bootstrap: true on every node, kills
// a follower with SIGKILL, deletes its data directory, and lets the other
// two take more writes and a snapshot that compacts their logs. The wiped
// node is then restarted from the same file (bootstrap still true). It
// must not found a cluster of its own: it gives up founding (its log says
// so), names the same leader and members as the others, and catches up by
// the leader's snapshot to the same balances. Then it must count as a
// voter again: with the other follower killed, a write commits only with
// its acknowledgement. Every acknowledged deposit must be in the ledger.
func TestWipedFoundingMemberRestartedWithBootstrapRepairsItself(t *testing.T) {
	// Two trailing entries: after the snapshot, the founding entry and
	// everything the wiped node held are gone from every live log, so it
	// can only catch up by snapshot.
	const trailing = 2
	c := StartCluster(t, Options{Nodes: 3, FSM: "ledger", TrailingLogs: trailing})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := newDeposits(c)

	for i := range 6 {
		d.deposit(t, ctx, c.Nodes, fmt.Sprintf("before-%d", i), fmt.Sprintf("acct-%d", i%3), int64(10+i))
	}
	lead := c.WaitLeader(c.Nodes...)
	wiped := c.Others(lead)[0]
	other := c.Others(lead, wiped)[0]
	t.Logf("SIGKILL follower %s and delete its data directory; leader %s, other follower %s", wiped.ID, lead.ID, other.ID)
	c.Kill(wiped)
	if err := os.RemoveAll(wiped.Dir); err != nil {
		t.Fatalf("delete %s's data directory: %v", wiped.ID, err)
	}

	live := []*Node{lead, other}
	for i := range 10 {
		d.deposit(t, ctx, live, fmt.Sprintf("while-wiped-%d", i), fmt.Sprintf("acct-%d", i%4), int64(100+i))
	}
	// Both live nodes snapshot and compact, so that whichever of them
	// leads when the wiped node returns has no entry 1 left to send: one
	// as an operator would ask it, the other through the HTTP API.
	for i, n := range live {
		var snap client.SnapshotResponse
		var err error
		if i == 0 {
			err = c.CLI(n, &snap, "cluster", "snapshot")
		} else {
			snap, err = n.C.Snapshot(ctx)
		}
		if err != nil {
			t.Fatalf("snapshot on %s: %v", n.ID, err)
		}
		if snap.Index <= 1+trailing {
			t.Fatalf("snapshot on %s at index %d: too low to compact the founding entry away", n.ID, snap.Index)
		}
		t.Logf("%s took a snapshot at index %d", n.ID, snap.Index)
	}
	// Entries after the snapshot are sent as entries, after it.
	for i := range 3 {
		d.deposit(t, ctx, live, fmt.Sprintf("after-snapshot-%d", i), "acct-9", int64(1000+i))
	}

	c.Start(wiped) // the same file: bootstrap: true, on an empty directory

	// It joins the cluster that exists: the same leader and members as
	// the others, waiting for no founder.
	var leadSt client.Status
	c.Eventually(wiped.ID+" following the existing cluster", 30*time.Second, func() error {
		l, st, err := c.leaderAmong(c.Nodes)
		if err != nil {
			return err
		}
		leadSt = st
		ws, err := c.Status(wiped)
		if err != nil {
			return err
		}
		if ws.LeaderID != l.ID || ws.State != "Follower" || ws.Term != st.Term {
			return fmt.Errorf("%s is %s in term %d following %q, want a follower of %s in term %d",
				wiped.ID, ws.State, ws.Term, ws.LeaderID, l.ID, st.Term)
		}
		if !sameMembers(ws.Members, st.Members) {
			return fmt.Errorf("%s's members %v differ from leader %s's %v", wiped.ID, ws.Members, l.ID, st.Members)
		}
		if len(ws.AwaitingFounders) != 0 {
			return fmt.Errorf("%s still awaits founders %v", wiped.ID, ws.AwaitingFounders)
		}
		return nil
	})
	if len(leadSt.Members) != 3 {
		t.Fatalf("the cluster's members are %v, want the 3 founders", leadSt.Members)
	}
	c.Eventually(wiped.ID+" logging that it gave up founding and restored the leader's snapshot", 10*time.Second, func() error {
		log, err := wiped.RunLog()
		if err != nil {
			return err
		}
		for _, s := range []string{logAskedFounders, logGaveUpFounding, logRestoredSnap} {
			if !strings.Contains(log, s) {
				return fmt.Errorf("no %q in the log of its run since the wipe", s)
			}
		}
		return nil
	})
	if log, err := wiped.RunLog(); err != nil || strings.Contains(log, logBootstrapped) {
		t.Fatalf("%s wrote a founding configuration after its data was deleted (%v):\n%s", wiped.ID, err, log)
	}

	// It caught up: its own replica holds every acknowledged deposit, as
	// the leader's does.
	d.awaitLedger(t, ctx, wiped, client.Stale)
	d.awaitLedger(t, ctx, c.WaitLeader(c.Nodes...), client.Linearizable)

	// It counts again: with the other follower gone, the leader has a
	// quorum only with the wiped node's acknowledgement. (Leadership may
	// have moved meanwhile: the node killed is the one that is neither
	// the wiped node nor the leader now.)
	now := c.WaitLeader(c.Nodes...)
	victim := c.Others(now, wiped)[0]
	pair := c.Others(victim)
	t.Logf("SIGKILL %s; %s leads, %s is the wiped node", victim.ID, now.ID, wiped.ID)
	c.Kill(victim)
	for i := range 3 {
		d.deposit(t, ctx, pair, fmt.Sprintf("without-%s-%d", victim.ID, i), "acct-0", int64(7+i))
	}
	now = c.WaitLeader(pair...)
	d.awaitLedger(t, ctx, now, client.Linearizable)
	d.awaitLedger(t, ctx, wiped, client.Stale)
	d.checkRetries(t, ctx, pair)
}

// TestWipedFoundingMemberDoesNotVoteAStaleMemberIntoOffice is the danger
// that founding by asking first prevents. Writes commit on two nodes, H
// and W, while the third, S, is cut off and falls behind. Then W is
// killed and its data directory deleted, and H is killed: only H's disk
// still holds the last acknowledged writes. W restarts with the same
// file (bootstrap: true). Had it founded the cluster again, its log of
// nothing but the founding configuration would make it vote for S, and S,
// elected, would overwrite the writes H holds once H returns (with the
// founding query disabled in raft/founding.go this test sees exactly
// that: S leads, and the writes taken without it are gone). It must instead learn from S that the cluster
// exists and stay blank: S and W elect nobody. Once H returns, every
// acknowledged write must be on every node, W's included.
func TestWipedFoundingMemberDoesNotVoteAStaleMemberIntoOffice(t *testing.T) {
	c := StartCluster(t, Options{Nodes: 3, FSM: "ledger"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := newDeposits(c)
	for i := range 3 {
		d.deposit(t, ctx, c.Nodes, fmt.Sprintf("all-%d", i), "acct-a", int64(1+i))
	}
	h := c.WaitLeader(c.Nodes...)
	w := c.Others(h)[0]
	s := c.Others(h, w)[0]
	t.Logf("cut off %s; %s and %s take the writes", s.ID, h.ID, w.ID)
	c.Net.Isolate(s.ID, c.IDs())
	for i := range 5 {
		d.deposit(t, ctx, []*Node{h, w}, fmt.Sprintf("without-%s-%d", s.ID, i), "acct-b", int64(10+i))
	}
	sst, err := c.Status(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL %s and delete its data directory, SIGKILL %s; %s is behind at last index %d", w.ID, h.ID, s.ID, sst.LastIndex)
	c.Kill(w)
	if err := os.RemoveAll(w.Dir); err != nil {
		t.Fatalf("delete %s's data directory: %v", w.ID, err)
	}
	c.Kill(h)
	c.Net.HealAll()

	c.Start(w) // the same file: bootstrap: true, on an empty directory
	// The stale node campaigns, and however many election timeouts pass
	// it finds no vote: nobody leads, and nobody appends an entry.
	noLeader := func() (campaigning bool) {
		t.Helper()
		for _, n := range []*Node{s, w} {
			st, err := c.Status(n)
			if err != nil {
				t.Fatal(err)
			}
			if st.State == "Leader" || st.LeaderID == s.ID || st.LeaderID == w.ID {
				t.Fatalf("with %s down, %s is %s and names leader %q: the wiped node voted a stale member into office",
					h.ID, n.ID, st.State, st.LeaderID)
			}
			if n == w && st.LastIndex != 0 {
				t.Fatalf("with %s down, the wiped %s holds entries up to %d: it founded the cluster again, or a leader sent it a log", h.ID, w.ID, st.LastIndex)
			}
			if n == s && st.LastIndex != sst.LastIndex {
				t.Fatalf("with %s down, %s's log moved from index %d to %d", h.ID, s.ID, sst.LastIndex, st.LastIndex)
			}
			if n == s && (st.State == "PreCandidate" || st.State == "Candidate") {
				campaigning = true
			}
		}
		return campaigning
	}
	c.Eventually(s.ID+" campaigning without a leader", 20*time.Second, func() error {
		if !noLeader() {
			return fmt.Errorf("%s is not campaigning yet", s.ID)
		}
		return nil
	})
	rounds := 0
	for end := time.Now().Add(4 * c.opts.ElectionTimeout); time.Now().Before(end); rounds++ {
		noLeader()
		time.Sleep(50 * time.Millisecond)
	}
	if rounds < 2 {
		t.Fatalf("observed %s and %s only %d times", s.ID, w.ID, rounds)
	}
	// It did so because it learnt from the stale node that the cluster
	// exists (the down one could not answer).
	if log, err := w.RunLog(); err != nil || !strings.Contains(log, logGaveUpFounding) || strings.Contains(log, logBootstrapped) {
		t.Fatalf("%s's log does not say it gave up founding, or says it founded (%v):\n%s", w.ID, err, log)
	}

	c.Start(h)
	lead := c.WaitLeader(c.Nodes...)
	t.Logf("%s leads once %s is back", lead.ID, h.ID)
	d.awaitLedger(t, ctx, lead, client.Linearizable)
	for _, n := range c.Nodes {
		d.awaitLedger(t, ctx, n, client.Stale)
	}
	d.deposit(t, ctx, c.Nodes, "after", "acct-c", 99)
	d.checkRetries(t, ctx, c.Nodes)
}

// TestFirstStartWaitsForEveryFoundingMember starts two of three founding
// members on empty data directories: they must elect nobody and say that
// they wait for the third, for several election timeouts. Once the third
// starts, the cluster forms and a write commits.
func TestFirstStartWaitsForEveryFoundingMember(t *testing.T) {
	c := NewCluster(t, Options{Nodes: 3, FSM: "ledger"})
	up, late := c.Nodes[:2], c.Nodes[2]
	for _, n := range up {
		c.Start(n)
	}
	want := []string{late.ID}
	// waiting fails the test at once when a started node founded or
	// elected anything, and returns an error while they do not (yet) both
	// name exactly the missing founder.
	waiting := func() error {
		for _, n := range up {
			st, err := c.Status(n)
			if err != nil {
				return err
			}
			if st.LeaderID != "" || st.State == "Leader" || st.CommitIndex != 0 || st.LastIndex != 0 || len(st.Members) != 0 {
				t.Fatalf("%s is %s, names leader %q, commit index %d, last index %d, members %v, while %s never started",
					n.ID, st.State, st.LeaderID, st.CommitIndex, st.LastIndex, st.Members, late.ID)
			}
			if !slices.Equal(st.AwaitingFounders, want) {
				return fmt.Errorf("%s awaits founders %v, want %v", n.ID, st.AwaitingFounders, want)
			}
		}
		return nil
	}
	c.Eventually("the started founders awaiting "+late.ID, 20*time.Second, waiting)
	// Now they must stay so: no number of election timeouts forms a
	// cluster without the third founder.
	rounds := 0
	for end := time.Now().Add(4 * c.opts.ElectionTimeout); time.Now().Before(end); rounds++ {
		if err := waiting(); err != nil {
			t.Fatalf("after %d checks: %v", rounds, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rounds < 2 {
		t.Fatalf("observed the waiting founders only %d times", rounds)
	}
	for _, n := range up {
		log, err := n.RunLog()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log, logAskedFounders) || strings.Contains(log, logBootstrapped) {
			t.Fatalf("%s's log does not show it waiting for the founders without founding:\n%s", n.ID, log)
		}
		// An operator sees the same with `mandate cluster status`.
		var st client.Status
		if err := c.CLI(n, &st, "cluster", "status"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.AwaitingFounders, want) || st.LeaderID != "" {
			t.Fatalf("mandate cluster status on %s: awaiting founders %v, leader %q; want %v and no leader",
				n.ID, st.AwaitingFounders, st.LeaderID, want)
		}
	}

	c.Start(late)
	lead := c.WaitLeader(c.Nodes...)
	c.Eventually("every founder done waiting", 10*time.Second, func() error {
		for _, n := range c.Nodes {
			st, err := c.Status(n)
			if err != nil {
				return err
			}
			if len(st.AwaitingFounders) != 0 || len(st.Members) != 3 {
				return fmt.Errorf("%s awaits %v with members %v", n.ID, st.AwaitingFounders, st.Members)
			}
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := newDeposits(c)
	d.deposit(t, ctx, c.Nodes, "first", "acct-a", 42)
	d.awaitLedger(t, ctx, lead, client.Linearizable)
	for _, n := range c.Nodes {
		log, err := n.RunLog()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log, logBootstrapped) {
			t.Errorf("%s's log does not say it founded the cluster", n.ID)
		}
	}
}

// deposits records acknowledged deposits, each sent with its own request
// id, and the balances they add up to.
type deposits struct {
	c    *Cluster
	want map[string]int64
	sum  int64
	// acks holds every acknowledged deposit, for retrying it.
	acks []ackedDeposit
}

type ackedDeposit struct {
	req      client.DepositRequest
	balances map[string]int64
}

func newDeposits(c *Cluster) *deposits {
	return &deposits{c: c, want: map[string]int64{}}
}

// deposit sends one deposit through nodes in turn, retried with its
// request id until it is acknowledged; any other end fails the test.
func (d *deposits) deposit(t *testing.T, ctx context.Context, nodes []*Node, id, account string, amount int64) {
	t.Helper()
	req := client.DepositRequest{RequestID: id, Account: account, Amount: amount}
	var balances map[string]int64
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err, _ := retryWrite(wctx, nodes, len(d.acks), func(ctx context.Context, n *Node) error {
		r, err := n.C.Deposit(ctx, req)
		balances = r.Balances
		return err
	})
	if err != nil {
		t.Fatalf("deposit %s of %d to %s through %v: %v", id, amount, account, d.c.IDs(nodes...), err)
	}
	d.want[account] += amount
	d.sum += amount
	if balances[account] != d.want[account] {
		t.Fatalf("deposit %s acknowledged balance %d for %s, want %d", id, balances[account], account, d.want[account])
	}
	d.acks = append(d.acks, ackedDeposit{req: req, balances: balances})
}

// awaitLedger waits until n's accounts, read with cons, are exactly the
// acknowledged deposits' sums, and its audit counts exactly their total.
func (d *deposits) awaitLedger(t *testing.T, ctx context.Context, n *Node, cons client.Consistency) {
	t.Helper()
	d.c.Eventually(n.ID+" holding every acknowledged deposit", 20*time.Second, func() error {
		accts, err := n.C.AllAccounts(ctx, cons)
		if err != nil {
			return err
		}
		got := map[string]int64{}
		for _, a := range accts {
			got[a.ID] = a.Balance
		}
		if !maps.Equal(got, d.want) {
			return fmt.Errorf("%s's balances %v, want %v", n.ID, got, d.want)
		}
		audit, err := n.C.Audit(ctx, cons)
		if err != nil {
			return err
		}
		if audit.Deposited != d.sum || audit.Total != d.sum || !audit.Reconciles {
			return fmt.Errorf("%s's audit %+v, want %d deposited in all", n.ID, audit, d.sum)
		}
		return nil
	})
}

// checkRetries sends every acknowledged deposit again with its request
// id: each must be answered with its first balances and move no money,
// which shows the sessions travelled with the ledger (in the snapshot).
func (d *deposits) checkRetries(t *testing.T, ctx context.Context, nodes []*Node) {
	t.Helper()
	for i, a := range d.acks {
		n := nodes[i%len(nodes)]
		var r client.WriteResponse
		err, _ := retryWrite(ctx, []*Node{n}, 0, func(ctx context.Context, n *Node) error {
			var err error
			r, err = n.C.Deposit(ctx, a.req)
			return err
		})
		if err != nil || !reflect.DeepEqual(r.Balances, a.balances) {
			t.Errorf("retry of deposit %s through %s: got %v %v, want the first answer %v", a.req.RequestID, n.ID, r.Balances, err, a.balances)
		}
	}
	d.awaitLedger(t, ctx, nodes[0], client.Linearizable)
}

// sameMembers reports whether a and b list the same servers, in any order.
func sameMembers(a, b []client.Member) bool {
	key := func(ms []client.Member) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID+"@"+m.Address+"/"+m.Role)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}
