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
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
			defer cancel()
			res, err := c.node(lead).Apply(ctx, []byte(cmd))
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
