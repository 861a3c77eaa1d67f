package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/wire"
)

// freeAddrs returns n distinct free addresses on 127.0.0.1.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// startCluster runs three daemons in-process over real TCP with memory
// stores, bootstrapped together, and returns them with a client of each.
func startCluster(t *testing.T, fsmName string) ([]*Daemon, []*client.Client) {
	t.Helper()
	addrs := freeAddrs(t, 3)
	var peers []wire.Server
	for i, a := range addrs {
		peers = append(peers, wire.Server{ID: wire.NodeID(fmt.Sprintf("n%d", i+1)), Address: a})
	}
	var ds []*Daemon
	var cs []*client.Client
	for i := range addrs {
		d, err := New(Options{
			NodeID: string(peers[i].ID), FSM: fsmName, RaftBind: addrs[i], Store: "memory",
			Bootstrap: true, Peers: peers, HTTPBind: "127.0.0.1:0",
			// Timeouts long enough that a loaded test machine does not
			// cause spurious elections mid-test.
			HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 750 * time.Millisecond,
			Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}),
		})
		if err != nil {
			t.Fatalf("start %s: %v", peers[i].ID, err)
		}
		ds = append(ds, d)
		c, err := client.New([]string{d.HTTPAddr()})
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i, d := range ds {
			cs[i].Close()
			if err := d.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
	})
	return ds, cs
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// waitLeader polls the nodes until they agree on a leader and returns its
// index in ds.
func waitLeader(t *testing.T, ds []*Daemon) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, d := range ds {
			if d.Node().State().String() != "Leader" {
				continue
			}
			agree := true
			for _, o := range ds {
				if lead, _ := o.Node().Leader(); lead != d.Node().ID() {
					agree = false
				}
			}
			if agree {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader agreed on within 20s")
	return -1
}

func TestRealClusterServesWritesAndReadsOnEveryNode(t *testing.T) {
	// Registered first, so it runs after the cluster's own clean-up.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	ds, cs := startCluster(t, "ledger")
	lead := waitLeader(t, ds)
	follower := (lead + 1) % 3
	other := (lead + 2) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A write sent to a follower is forwarded and answered with the FSM's result.
	w, err := cs[follower].Deposit(ctx, client.DepositRequest{Account: "alice", Amount: 100})
	if err != nil || w.Balances["alice"] != 100 {
		t.Fatalf("deposit through follower: %+v, %v", w, err)
	}
	if _, err := cs[follower].Withdraw(ctx, client.WithdrawRequest{Account: "alice", Amount: 500}); client.CodeOf(err) != client.CodeInsufficientFunds {
		t.Fatalf("overdraft through follower: %v; want insufficient_funds", err)
	}
	// A linearizable read on the third node sees the acknowledged write.
	a, err := cs[other].Balance(ctx, "alice", client.Linearizable)
	if err != nil || a.Balance != 100 {
		t.Fatalf("linearizable read on another follower: %+v, %v", a, err)
	}
	// So does a bounded read there, once the follower heard of the commit.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		a, err := cs[other].Balance(ctx, "alice", client.Bounded)
		if err == nil && a.Balance == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bounded read on a follower: %+v, %v", a, err)
		}
	}
	// Status tells who leads.
	st, err := cs[other].Status(ctx)
	if err != nil || st.LeaderID != string(ds[lead].Node().ID()) || len(st.Members) != 3 || st.FSM != "ledger" {
		t.Fatalf("status = %+v, %v", st, err)
	}
	// Membership changes are served by the leader only.
	if _, err := cs[follower].AddMember(ctx, client.AddMemberRequest{ID: "n4", Address: "127.0.0.1:1"}); client.CodeOf(err) != client.CodeNotLeader {
		t.Errorf("add member on a follower: %v; want not_leader", err)
	}
	// An on-demand snapshot covers the writes.
	snap, err := cs[follower].Snapshot(ctx)
	if err != nil || snap.Index < w.Index {
		t.Errorf("snapshot = %+v, %v; want index >= %d", snap, err, w.Index)
	}
	// Leadership moves where asked, and writes keep working. A follower
	// sends the caller to the leader; a client knowing every node finds it.
	target := string(ds[follower].Node().ID())
	if _, err := cs[other].TransferLeadership(ctx, target); client.CodeOf(err) != client.CodeNotLeader {
		t.Fatalf("transfer leadership asked of a follower: %v; want not_leader", err)
	}
	all, err := client.New([]string{ds[other].HTTPAddr(), ds[follower].HTTPAddr(), ds[lead].HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	tr, err := all.TransferLeadership(ctx, target)
	if err != nil || tr.LeaderID != target {
		t.Fatalf("transfer leadership to %s: %+v, %v", target, tr, err)
	}
	if _, err := cs[lead].Transfer(ctx, client.TransferRequest{From: "alice", To: "alice", Amount: 1}); client.CodeOf(err) != client.CodeInvalidArgument {
		t.Errorf("self-transfer: %v; want invalid_argument", err)
	}
	if _, err := cs[lead].Deposit(ctx, client.DepositRequest{Account: "bob", Amount: 1}); err != nil {
		t.Fatalf("write after the transfer: %v", err)
	}
	audit, err := cs[lead].Audit(ctx, client.Linearizable)
	if err != nil || !audit.Reconciles || audit.Total != 101 {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}

func TestRealClusterWithoutQuorumRefusesLinearizableReadsButServesStaleOnes(t *testing.T) {
	ds, cs := startCluster(t, "ledger")
	lead := waitLeader(t, ds)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cs[lead].Deposit(ctx, client.DepositRequest{Account: "alice", Amount: 7}); err != nil {
		t.Fatal(err)
	}
	// Wait until every replica applied the deposit, then stop two nodes.
	survivor := (lead + 1) % 3
	for {
		if a, err := cs[survivor].Balance(ctx, "alice", client.Stale); err == nil && a.Balance == 7 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the deposit never reached the survivor")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, d := range ds {
		if i != survivor {
			sctx, c := context.WithTimeout(ctx, 5*time.Second)
			if err := d.Shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			c()
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	_, err := cs[survivor].Balance(rctx, "alice", client.Linearizable)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 503 || !client.IsRetryable(err) {
		t.Fatalf("linearizable read without quorum: %v; want a retryable 503", err)
	}
	a, err := cs[survivor].Balance(ctx, "alice", client.Stale)
	if err != nil || a.Balance != 7 {
		t.Fatalf("stale read without quorum: %+v, %v", a, err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
	defer wcancel()
	_, err = cs[survivor].Deposit(wctx, client.DepositRequest{Account: "alice", Amount: 1})
	if !client.IsRetryable(err) {
		t.Fatalf("write without quorum: %v; want a retryable error", err)
	}
}

func TestANewNodeJoinsThroughTheHTTPAPIAndCanBeRemoved(t *testing.T) {
	ds, _ := startCluster(t, "ledger")
	waitLeader(t, ds)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var httpAddrs []string
	for _, d := range ds {
		httpAddrs = append(httpAddrs, d.HTTPAddr())
	}
	all, err := client.New(httpAddrs)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	if _, err := all.Deposit(ctx, client.DepositRequest{Account: "alice", Amount: 42}); err != nil {
		t.Fatal(err)
	}

	// n4 starts empty and asks the cluster to admit it.
	d4, err := New(Options{
		NodeID: "n4", FSM: "ledger", RaftBind: "127.0.0.1:0", Store: "memory", Join: httpAddrs,
		HTTPBind: "127.0.0.1:0", HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 750 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}),
	})
	if err != nil {
		t.Fatalf("n4 failed to join: %v", err)
	}
	defer d4.Shutdown(context.Background())
	// The join returns once the promotion committed on the leader; the node
	// the client reaches answers from its own log, which may lag by that
	// one configuration entry, so wait for it to catch up.
	var members []client.Member
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := all.Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		members = m.Members
		var n4 *client.Member
		for i := range members {
			if members[i].ID == "n4" {
				n4 = &members[i]
			}
		}
		if len(members) == 4 && n4 != nil && n4.Role == "voter" && n4.Address == d4.RaftAddr() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members after the join = %+v; want n4 as a voter at %s", members, d4.RaftAddr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The new member holds the ledger.
	c4, _ := client.New([]string{d4.HTTPAddr()})
	defer c4.Close()
	if a, err := c4.Balance(ctx, "alice", client.Linearizable); err != nil || a.Balance != 42 {
		t.Fatalf("balance on the new member: %+v, %v", a, err)
	}
	// Adding it again is a no-op; removing an unknown id is a 404.
	if _, err := all.AddMember(ctx, client.AddMemberRequest{ID: "n4", Address: d4.RaftAddr()}); err != nil {
		t.Errorf("re-adding n4: %v", err)
	}
	if _, err := all.RemoveMember(ctx, "n9"); client.CodeOf(err) != client.CodeUnknownMember {
		t.Errorf("removing n9: %v; want unknown_member", err)
	}
	if m, err := all.RemoveMember(ctx, "n4"); err != nil || len(m.Members) != 3 {
		t.Fatalf("remove n4: %+v, %v", m, err)
	}
}
