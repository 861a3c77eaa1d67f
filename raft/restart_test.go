package raft

import (
	"context"
	"fmt"
	"testing"

	"github.com/mandate-raft/mandate/logstore/ondisk"
)

// TestRestartingEveryNodeOnDiskKeepsAndReplaysTheLog restarts the whole
// cluster, on each durable log store engine, several times: each time every node rebuilds
// its FSM from its snapshot and log, no command is applied twice (the test
// FSM panics on a non-increasing index), every acknowledged write is back,
// and the commit index a node reports never goes below what it reported
// before the restart.
func TestRestartingEveryNodeOnDiskKeepsAndReplaysTheLog(t *testing.T) {
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) { restartEveryNodeOnDisk(t, engine) })
	}
}

func restartEveryNodeOnDisk(t *testing.T, engine string) {
	c := newOnDiskCluster(t, engine, 3, withConfig(func(cfg *Config) { cfg.TrailingLogs = 4 }))
	stopAll := func() {
		for _, id := range c.ids {
			c.stopNode(id)
			if err := c.nodes[id].store.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}

	var acks ackLog
	commits := map[string]uint64{}
	c.start(true)
	for round := 0; round < 3; round++ {
		for i := 0; i < 10; i++ {
			cmd := fmt.Sprintf("r%d-%d", round, i)
			res := c.applyRetry(cmd)
			acks.add(cmd, res.Index)
		}
		if round == 1 {
			// One node snapshots, so it restarts from a snapshot too.
			ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
			if _, err := c.node(c.ids[0]).Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
		final := c.applyRetry(fmt.Sprintf("r%d-final", round))
		c.waitApplied(final.Index)
		for _, id := range c.ids {
			commits[string(id)] = c.stats(id).Commit
		}
		stopAll()
		for _, id := range c.ids {
			c.openStore(id)
		}
		for _, id := range c.ids {
			c.startNode(id)
			// The log holds what was committed before; the snapshot store
			// survives in memory, as a directory would.
			if got := c.stats(id).Commit; got == 0 {
				t.Fatalf("round %d: %s restarted with commit index 0", round, id)
			}
		}
		c.waitLeader()
		c.waitApplied(final.Index)
		for _, id := range c.ids {
			if got := c.stats(id).Commit; got < commits[string(id)] {
				t.Fatalf("round %d: %s's commit index went back from %d to %d", round, id, commits[string(id)], got)
			}
			acks.checkPresent(t, id, c.nodes[id].fsm)
		}
		c.checkFSMsAgree()
	}
}

func TestGracefulShutdownStoresTheCommitIndexItReported(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	var last Applied
	for i := 0; i < 30; i++ {
		last = c.apply(lead, fmt.Sprintf("c%d", i))
	}
	c.waitApplied(last.Index)
	for _, id := range c.ids {
		reported := c.stats(id).Commit
		c.stopNode(id)
		hs, _, err := c.nodes[id].store.HardState()
		if err != nil {
			t.Fatal(err)
		}
		if hs.Commit < reported {
			t.Fatalf("%s reported commit %d but stored %d at shutdown", id, reported, hs.Commit)
		}
	}
	for _, id := range c.ids {
		c.startNode(id)
	}
	c.waitLeader()
	c.waitApplied(last.Index)
	c.checkFSMsAgree()
}
