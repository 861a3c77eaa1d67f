package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestReadIndexSafeIgnoresAValidLease(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead := nw.leader()
	nw.tick() // a heartbeat round establishes the lease
	nw.isolate(lead)
	nw.node(lead).rn.ReadIndexSafe([]byte("safe"))
	nw.stabilize()
	if got := nw.node(lead).reads; len(got) != 0 {
		t.Fatalf("reads %v: a safe read was answered on the lease alone", got)
	}
	nw.heal()
	nw.tick()
	nw.stabilize()
	got := nw.node(lead).reads
	if len(got) != 1 || string(got[0].RequestCtx) != "safe" {
		t.Fatalf("reads %v, want the safe read once a quorum answers", got)
	}
}

func TestLeaseNodeFallsBackToAHeartbeatRoundWhenTheLeaseRanOut(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	lead := nw.leader()
	// Answers are lost for most of an election timeout: the lease runs out.
	nw.drop = func(m wire.Message) bool { return m.Type == wire.MsgHeartbeatResp }
	for i := 0; i < 7; i++ {
		nw.node(lead).rn.Tick()
		nw.stabilize()
	}
	nw.node(lead).rn.ReadIndex([]byte("fallback"))
	nw.stabilize()
	if got := nw.node(lead).reads; len(got) != 0 {
		t.Fatalf("reads %v: answered without a lease or a quorum", got)
	}
	nw.drop = nil
	nw.node(lead).rn.ReadIndex([]byte("fallback-2"))
	nw.stabilize()
	got := nw.node(lead).reads
	if len(got) != 2 {
		t.Fatalf("reads %v, want both reads answered by the heartbeat round", got)
	}
}

func TestReadIndexSafeForwardedFromAFollowerKeepsItsDemand(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true; c.ReadOnlyOption = ReadOnlyLeaseBased })
	nw.tickUntil(100, func() bool { return nw.leader() != None })
	nw.tick()
	var f wire.NodeID
	for _, id := range nw.ids {
		if id != nw.leader() {
			f = id
		}
	}
	var seen []wire.Message
	nw.drop = func(m wire.Message) bool {
		if m.Type == wire.MsgReadIndex {
			seen = append(seen, m)
		}
		return false
	}
	nw.node(f).rn.ReadIndexSafe([]byte("f"))
	nw.stabilize()
	if len(seen) != 1 || seen[0].Index != readIndexSafe {
		t.Fatalf("forwarded %v, want one MsgReadIndex asking for a safe read", seen)
	}
	if got := nw.node(f).reads; len(got) != 1 || string(got[0].RequestCtx) != "f" {
		t.Fatalf("follower reads %v, want the answer", got)
	}
}
