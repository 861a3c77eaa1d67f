package raft

import (
	"context"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm/session"
	"github.com/mandate-raft/mandate/wire"
)

// startSession starts node id with a session FSM around a fresh testFSM.
func (c *testCluster) startSession(id wire.NodeID) {
	inner := newTestFSM()
	c.startWith(id, session.New(inner, session.Options{}), inner)
}

// retryOn applies data on whichever node leads until it commits, as a
// client retrying after errors would, and returns the outcome.
func (c *testCluster) retryOn(t *testing.T, data []byte) Applied {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		lead := c.waitLeader()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		res, err := c.node(lead).Apply(ctx, data)
		cancel()
		if err == nil {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("retry never committed: %v", err)
		}
	}
}

// countEverywhere fails unless every running node's inner FSM applied
// payload exactly once.
func (c *testCluster) countEverywhere(t *testing.T, payload string) {
	t.Helper()
	for _, id := range c.running() {
		n := 0
		for _, cmd := range c.nodes[id].fsm.history() {
			if cmd == payload {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s applied %q %d times, want once", id, payload, n)
		}
	}
}

func TestSessionCommandRetriedAfterALeaderCrashIsAppliedOnce(t *testing.T) {
	c := newTestCluster(t, 3)
	for _, id := range c.ids {
		c.startSession(id)
		if err := c.node(id).Bootstrap(c.conf); err != nil {
			t.Fatal(err)
		}
	}
	client := session.NewClient("client-1")

	// 1. The command commits, but the leader crashes before the client
	// hears back; the client retries the same envelope on the new leader.
	env := client.Wrap([]byte("pay-1"))
	lead := c.waitLeader()
	if _, err := c.node(lead).Apply(context.Background(), env.Encode()); err != nil {
		t.Fatalf("first attempt: %v", err)
	}
	c.stopNode(lead)
	c.retryOn(t, env.Encode())
	client.Done(env.Seq)
	c.startSession(lead)

	// 2. The leader is cut off with the command appended but not
	// committed (outcome unknown), then crashes; the retry goes elsewhere.
	env2 := client.Wrap([]byte("pay-2"))
	lead = c.waitLeader()
	c.isolate(lead)
	ctx, cancel := context.WithTimeout(context.Background(), 3*testElection)
	_, err := c.node(lead).Apply(ctx, env2.Encode())
	cancel()
	if err == nil {
		t.Log("the cut-off leader committed before the cut took effect; the retry must still apply once")
	}
	c.stopNode(lead)
	c.net.Heal()
	res := c.retryOn(t, env2.Encode())
	client.Done(env2.Seq)
	c.startSession(lead)

	// A last command moves every replica past both retries.
	env3 := client.Wrap([]byte("pay-3"))
	last := c.retryOn(t, env3.Encode())
	if last.Index <= res.Index {
		t.Fatalf("last index %d not after %d", last.Index, res.Index)
	}
	waitFor(t, "every node to apply pay-3", func() bool {
		for _, id := range c.running() {
			if !c.nodes[id].fsm.contains("pay-3") {
				return false
			}
		}
		return true
	})
	for _, p := range []string{"pay-1", "pay-2", "pay-3"} {
		c.countEverywhere(t, p)
	}
}
