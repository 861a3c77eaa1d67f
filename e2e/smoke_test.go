//go:build unix

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// A cluster started by the harness elects a leader, takes a write through
// a follower (forwarded over the proxied Raft network), keeps committing
// over slow links, and loses the isolated leader's mandate while the rest
// elect another.
func TestHarnessClusterElectsAndIsolates(t *testing.T) {
	c := StartCluster(t, Options{Nodes: 3, FSM: "ledger"})
	lead := c.WaitLeader(c.Nodes...)
	follower := c.Others(lead)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := follower.C.Deposit(ctx, client.DepositRequest{Account: "a", Amount: 5}); err != nil {
		t.Fatalf("deposit through follower %s: %v", follower.ID, err)
	}
	// Slow links (every byte held 100 ms each way) still commit writes.
	for _, a := range c.IDs() {
		for _, b := range c.IDs() {
			if a != b {
				c.Net.Delay(Link{From: a, To: b}, 100*time.Millisecond)
			}
		}
	}
	for i := range 5 {
		if _, err := c.Nodes[i%3].C.Deposit(ctx, client.DepositRequest{Account: "a", Amount: 1}); err != nil {
			t.Fatalf("deposit %d over slow links: %v", i, err)
		}
	}
	c.Net.HealAll()
	bal, err := lead.C.Balance(ctx, "a", client.Linearizable)
	if err != nil || bal.Balance != 10 {
		t.Fatalf("balance after six deposits: %+v %v, want 10", bal, err)
	}
	c.Net.Isolate(lead.ID, c.IDs())
	rest := c.Others(lead)
	newLead := c.WaitLeader(rest...)
	if newLead == lead {
		t.Fatal("the isolated node still leads the others")
	}
	c.Net.HealAll()
	c.WaitLeader(c.Nodes...)
}
