package daemon

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/wire"
)

// A first start with bootstrap waits for every founding member, and
// GET /v1/status says which ones it still waits for: two founders, then
// one, then none once the last is up and the cluster has formed.
func TestStatusListsTheFoundingMembersAFirstStartAwaits(t *testing.T) {
	// Registered first, so it runs after the daemons' own clean-up.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	addrs := freeAddrs(t, 3)
	var peers []wire.Server
	for i, a := range addrs {
		peers = append(peers, wire.Server{ID: wire.NodeID(fmt.Sprintf("n%d", i+1)), Address: a})
	}
	var ds []*Daemon
	var cs []*client.Client
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i, d := range ds {
			cs[i].Close()
			if err := d.Shutdown(ctx); err != nil {
				t.Errorf("shutdown of %s: %v", peers[i].ID, err)
			}
		}
	})
	start := func(i int) {
		t.Helper()
		d, err := New(Options{
			NodeID: string(peers[i].ID), FSM: "ledger", RaftBind: addrs[i], Store: "memory",
			Bootstrap: true, Peers: peers, HTTPBind: "127.0.0.1:0",
			HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
			Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}),
		})
		if err != nil {
			t.Fatalf("start %s: %v", peers[i].ID, err)
		}
		c, err := client.New([]string{d.HTTPAddr()})
		if err != nil {
			t.Fatal(err)
		}
		ds, cs = append(ds, d), append(cs, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// awaits waits until every started node's status names exactly want
	// as the founders it waits for; a started node that names a leader or
	// holds an entry before every founder is up fails the test at once.
	awaits := func(want ...string) {
		t.Helper()
		var last error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			last = nil
			for i, c := range cs {
				st, err := c.Status(ctx)
				if err != nil {
					t.Fatalf("status of %s: %v", peers[i].ID, err)
				}
				if st.LeaderID != "" || st.LastIndex != 0 || len(st.Members) != 0 {
					t.Fatalf("%s names leader %q, last index %d, members %v before every founder is up",
						peers[i].ID, st.LeaderID, st.LastIndex, st.Members)
				}
				if !slices.Equal(st.AwaitingFounders, want) {
					last = fmt.Errorf("%s awaits %v, want %v", peers[i].ID, st.AwaitingFounders, want)
				}
			}
			if last == nil {
				return
			}
		}
		t.Fatal(last)
	}

	start(0)
	awaits("n2", "n3")
	start(1)
	awaits("n3")

	start(2)
	lead := waitLeader(t, ds)
	if _, err := cs[lead].Deposit(ctx, client.DepositRequest{Account: "a", Amount: 1}); err != nil {
		t.Fatalf("first write: %v", err)
	}
	for i, c := range cs {
		st, err := c.Status(ctx)
		if err != nil || len(st.AwaitingFounders) != 0 || len(st.Members) != 3 {
			t.Errorf("%s's status once the cluster formed: %+v, %v; want 3 members, nobody awaited", peers[i].ID, st, err)
		}
	}
}
