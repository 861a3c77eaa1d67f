package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mandate-raft/mandate/logstore/memory"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/wire"
)

// lostQuorum runs a 3-node cluster, acknowledges writes, optionally
// snapshots n1 (compacting its log), then stops every node, as if n2 and
// n3 had been lost for good. It returns the acknowledged writes.
func lostQuorum(t *testing.T, snapshotFirst bool) (*testCluster, *ackLog) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.TrailingLogs = 2 }))
	c.start(true)
	lead := c.waitLeader()
	acks := &ackLog{}
	var last Applied
	for i := 0; i < 20; i++ {
		cmd := fmt.Sprintf("before-%d", i)
		last = c.apply(lead, cmd)
		acks.add(cmd, last.Index)
	}
	c.waitApplied(last.Index)
	if snapshotFirst {
		if _, err := c.node("n1").Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "n1's log to be compacted", func() bool { return c.stats("n1").FirstIndex > 1 })
	}
	c.shutdown()
	return c, acks
}

func TestRecoverClusterLetsTheLastSurvivorLeadAlone(t *testing.T) {
	for _, snap := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			c, acks := lostQuorum(t, snap)
			tn := c.nodes["n1"]
			alone := wire.Configuration{Servers: []wire.Server{{ID: "n1", Address: tn.addr}}}
			if err := RecoverCluster(tn.store, tn.snaps, alone); err != nil {
				t.Fatalf("recover: %v", err)
			}
			c.startNode("n1")
			if got := c.waitLeader("n1"); got != "n1" {
				t.Fatalf("leader %s", got)
			}
			res := c.apply("n1", "after-recovery")
			c.waitApplied(res.Index)
			acks.add("after-recovery", res.Index)
			acks.checkPresent(t, "n1", tn.fsm)
			if st := c.stats("n1"); len(st.Config.Servers) != 1 || !st.Config.IsVoter("n1") {
				t.Fatalf("configuration after recovery: %+v", st.Config)
			}
			// And it survives a restart as it is.
			c.stopNode("n1")
			c.startNode("n1")
			c.waitLeader("n1")
			c.waitApplied(res.Index)
			acks.checkPresent(t, "n1", c.nodes["n1"].fsm)
		})
	}
}

func TestRecoverClusterWithASecondSurvivorThatKeepsItsState(t *testing.T) {
	c, acks := lostQuorum(t, false)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	two := wire.Configuration{Servers: []wire.Server{{ID: "n1", Address: n1.addr}, {ID: "n2", Address: n2.addr}}}
	// Only the most up-to-date survivor is recovered; n2 keeps its state
	// and catches up from it.
	if err := RecoverCluster(n1.store, n1.snaps, two); err != nil {
		t.Fatalf("recover: %v", err)
	}
	c.startNode("n1")
	c.startNode("n2")
	lead := c.waitLeader("n1", "n2")
	res := c.apply(lead, "after-recovery")
	acks.add("after-recovery", res.Index)
	c.waitApplied(res.Index)
	acks.checkPresent(t, "n1", n1.fsm)
	acks.checkPresent(t, "n2", n2.fsm)
	c.checkFSMsAgree()
	if st := c.stats("n2"); len(st.Config.Voters()) != 2 || st.Config.IsVoter("n3") {
		t.Fatalf("n2's configuration: %+v", st.Config)
	}
}

func TestRecoverClusterRefusesWhatItCannotRecover(t *testing.T) {
	conf := wire.Configuration{Servers: []wire.Server{{ID: "n1", Address: "a"}}}
	if err := RecoverCluster(memory.New(), snapmem.New(1), conf); !errors.Is(err, ErrNothingToRecover) {
		t.Fatalf("empty node: %v, want ErrNothingToRecover", err)
	}
	store := memory.New()
	if err := store.StoreEntries([]wire.Entry{{Index: 1, Term: 1, Type: wire.EntryConfig, Config: &conf}}); err != nil {
		t.Fatal(err)
	}
	if err := RecoverCluster(store, snapmem.New(1), wire.Configuration{}); err == nil {
		t.Fatal("an empty configuration was accepted")
	}
	if last, _ := store.LastIndex(); last != 1 {
		t.Fatalf("a refused recovery wrote to the log: last index %d", last)
	}
}

func TestLastLogPositionPicksTheMostUpToDateSurvivor(t *testing.T) {
	conf := wire.Configuration{Servers: []wire.Server{{ID: "n1", Address: "a"}}}
	longer := storeWithLog(t, conf, []uint64{1, 1, 1, 1}, 1)
	newer := storeWithLog(t, conf, []uint64{1, 1, 2}, 2)
	idx, term, err := LastLogPosition(longer, snapmem.New(1))
	if err != nil || idx != 4 || term != 1 {
		t.Fatalf("longer log: (%d, %d, %v), want (4, 1)", idx, term, err)
	}
	idx, term, err = LastLogPosition(newer, snapmem.New(1))
	if err != nil || idx != 3 || term != 2 {
		t.Fatalf("newer log: (%d, %d, %v), want (3, 2)", idx, term, err)
	}
	// A log that the newest snapshot does not continue ends at the snapshot.
	snaps := snapmem.New(1)
	sink, err := snaps.Create(wire.SnapshotMeta{Index: 9, Term: 3, Config: conf})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	idx, term, err = LastLogPosition(newer, snaps)
	if err != nil || idx != 9 || term != 3 {
		t.Fatalf("behind its snapshot: (%d, %d, %v), want (9, 3)", idx, term, err)
	}
	// Reading changed nothing.
	if last, _ := newer.LastIndex(); last != 3 {
		t.Fatalf("LastLogPosition changed the log: last index %d", last)
	}
	// Recovering that node discards the log the snapshot replaced, and
	// continues after the snapshot.
	if err := RecoverCluster(newer, snaps, conf); err != nil {
		t.Fatal(err)
	}
	ents := logOf(t, newer)
	if len(ents) != 1 || ents[0].Index != 10 || ents[0].Type != wire.EntryConfig || ents[0].Term <= 3 {
		t.Fatalf("log after recovery: %+v", ents)
	}
}
