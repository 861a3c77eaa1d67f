//go:build unix

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// A cluster started by the harness elects a leader, takes a write through
// a follower (forwarded over the proxied Raft network), and loses the
// isolated leader's mandate while the rest elect another.
func TestHarnessClusterElectsAndIsolates(t *testing.T) {
	c := StartCluster(t, Options{Nodes: 3, FSM: "ledger"})
	lead := c.WaitLeader(c.Nodes...)
	follower := c.Others(lead)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := follower.C.Deposit(ctx, client.DepositRequest{Account: "a", Amount: 5}); err != nil {
		t.Fatalf("deposit through follower %s: %v", follower.ID, err)
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
