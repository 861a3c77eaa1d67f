package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/wire"
)

// figure7 holds the terms of the logs of Figure 7 of the Raft paper, one
// row per server: the leader of term 8, then followers (a) to (f).
var figure7 = [][]uint64{
	{1, 1, 1, 4, 4, 5, 5, 6, 6, 6},       // leader of term 8
	{1, 1, 1, 4, 4, 5, 5, 6, 6},          // (a) missing entries
	{1, 1, 1, 4},                         // (b) missing many entries
	{1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},    // (c) an extra uncommitted entry
	{1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, // (d) extra entries of a later term
	{1, 1, 1, 4, 4, 4, 4},                // (e) a divergent tail
	{1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},    // (f) a long divergent tail
}

// storeWithLog returns a log store holding entry 1 (the configuration),
// then one command per term in terms[1:], and hard state term.
func storeWithLog(t *testing.T, conf wire.Configuration, terms []uint64, term uint64) logstore.Store {
	t.Helper()
	cc := conf.Clone()
	ents := []wire.Entry{{Index: 1, Term: 1, Type: wire.EntryConfig, Config: &cc}}
	for i, tm := range terms[1:] {
		idx := uint64(i + 2)
		ents = append(ents, wire.Entry{Index: idx, Term: tm, Data: []byte(fmt.Sprintf("entry-%d-term-%d", idx, tm))})
	}
	s := memory.New()
	if err := s.StoreEntries(ents); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHardState(wire.HardState{Term: term, Commit: 1}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDivergentLogsOfFigure7AreRepaired(t *testing.T) {
	c := newTestCluster(t, 7)
	stores := map[wire.NodeID]logstore.Store{}
	for i, terms := range figure7 {
		term := terms[len(terms)-1]
		if i == 0 {
			term = 8
		}
		stores[c.ids[i]] = storeWithLog(t, c.conf, terms, term)
	}
	withStores(stores)(c)
	c.start(false)

	final := c.applyRetry("after-repair")
	c.waitApplied(final.Index)
	lead := c.waitLeader()
	want := logOf(t, c.nodes[lead].store)
	for _, id := range c.ids {
		got := logOf(t, c.nodes[id].store)
		if len(got) < int(final.Index) {
			t.Fatalf("%s's log ends at %d, before the final write %d", id, len(got), final.Index)
		}
		for i := 0; i < int(final.Index); i++ {
			if got[i].Term != want[i].Term || string(got[i].Data) != string(want[i].Data) {
				t.Fatalf("%s's log differs from the leader's at %d: %+v vs %+v", id, i+1, got[i], want[i])
			}
		}
	}
	c.checkFSMsAgree()
}

func TestCrashingLeadersRightAfterProposingNeverCommitTwoValues(t *testing.T) {
	// Figure 8 of the Raft paper, played live: leaders crash right after
	// proposing, again and again, so entries of old terms sit on some
	// replicas uncommitted while new leaders come and go.
	c := newTestCluster(t, 5)
	c.start(true)
	var acks ackLog
	type verdict struct {
		cmd string
		err error
	}
	var verdicts []verdict
	for round := 0; round < 6; round++ {
		lead := c.waitLeader()
		cmd := fmt.Sprintf("round-%d", round)
		done := make(chan verdict, 1)
		// Taken before the crash below: stopNode forgets the node, and the
		// proposal must meet the crash, not a missing node.
		node := c.node(lead)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
			defer cancel()
			res, err := node.Apply(ctx, []byte(cmd))
			if err == nil {
				acks.add(cmd, res.Index)
			}
			done <- verdict{cmd, err}
		}()
		time.Sleep(time.Duration(round) * time.Millisecond)
		c.stopNode(lead)
		verdicts = append(verdicts, <-done)
		c.waitLeader()
		c.startNode(lead)
	}
	final := c.applyRetry("final")
	acks.add("final", final.Index)
	c.waitApplied(final.Index)
	c.checkFSMsAgree()
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	for _, v := range verdicts {
		switch {
		case v.err == nil, errors.Is(v.err, ErrOutcomeUnknown):
		case errors.Is(v.err, ErrNotCommitted):
			for _, id := range c.ids {
				if c.nodes[id].fsm.contains(v.cmd) {
					t.Fatalf("%q was reported not committed but %s applied it", v.cmd, id)
				}
			}
		default:
			t.Fatalf("%q ended with an error of no documented kind: %v", v.cmd, v.err)
		}
	}
}

func TestFigure8OldTermEntryOnAMajorityIsOverwritten(t *testing.T) {
	// Figure 8 (c) of the Raft paper: S1, leader of term 4, replicated its
	// term-2 entry at index 2 to S2 and S3 (a majority) and appended a
	// term-4 entry at 3, then crashed. Counting replicas must not have
	// committed index 2: S5, with a term-3 entry at index 2, can still be
	// elected by S2 and S4 (figure 8 (d)) and overwrites index 2 everywhere.
	c := newTestCluster(t, 5)
	logs := map[wire.NodeID]struct {
		terms []uint64
		term  uint64
	}{
		"n1": {[]uint64{1, 2, 4}, 4},
		"n2": {[]uint64{1, 2}, 4},
		"n3": {[]uint64{1, 2}, 4},
		"n4": {[]uint64{1}, 3},
		"n5": {[]uint64{1, 3}, 3},
	}
	stores := map[wire.NodeID]logstore.Store{}
	for id, l := range logs {
		stores[id] = storeWithLog(t, c.conf, l.terms, l.term)
	}
	withStores(stores)(c)
	// Only S2, S4 and S5 run: S5 is the only one of them that can win.
	for _, id := range []wire.NodeID{"n2", "n4", "n5"} {
		c.startNode(id)
	}
	if lead := c.waitLeader(); lead != "n5" {
		t.Fatalf("%s leads; only n5 can win with n2 and n4", lead)
	}
	res := c.apply("n5", "s5-term")
	c.startNode("n1")
	c.startNode("n3")
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
	for _, id := range c.ids {
		h := c.nodes[id].fsm.history()
		if h[2] != "entry-2-term-3" {
			t.Fatalf("%s applied %q at index 2, want S5's term-3 entry", id, h[2])
		}
		if c.nodes[id].fsm.contains("entry-3-term-4") {
			t.Fatalf("%s applied S1's uncommitted term-4 entry", id)
		}
	}
}
