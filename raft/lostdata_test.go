package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore/memory"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/wire"
)

// A node that lost its data directory and restarts under the same id has
// no log, no term, no vote and no configuration. It must not act as if it
// still held what it acknowledged before: counted towards a quorum on
// entries it no longer has, or casting votes that let a node missing those
// entries lead. What it may do is wait for the cluster's leader, receive
// the state by snapshot, and take part again from there.

// wipe replaces a stopped node's stores with empty ones, as if its data
// directory had been deleted.
func (c *testCluster) wipe(id wire.NodeID) {
	c.t.Helper()
	tn := c.nodes[id]
	if tn.node != nil {
		c.t.Fatalf("wipe %s while it runs", id)
	}
	tn.store, tn.snaps = memory.New(), snapmem.New(2)
}

// startBlank starts a wiped node the way a blank node joins a running
// cluster (see the package doc): it is told the members' addresses with
// SetPeers, so that it can answer a leader before it holds a
// configuration.
func (c *testCluster) startBlank(id wire.NodeID) {
	c.t.Helper()
	n := c.startNode(id)
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	if err := n.SetPeers(ctx, c.conf.Servers...); err != nil {
		c.t.Fatalf("set peers of %s: %v", id, err)
	}
}

// applyAll applies n commands through the leader the running nodes among
// (all running nodes if none given) agree on, retrying a command whose
// outcome was not learned, and records the acknowledgements in acks.
func (c *testCluster) applyAll(acks *ackLog, prefix string, n int, among ...wire.NodeID) Applied {
	c.t.Helper()
	var last Applied
	for i := 0; i < n; i++ {
		cmd := fmt.Sprintf("%s-%d", prefix, i)
		for attempt := 0; ; attempt++ {
			lead := c.waitLeader(among...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			res, err := c.node(lead).Apply(ctx, []byte(cmd))
			cancel()
			if err == nil {
				last = res
				break
			}
			if !isNotCommitted(err) && !errors.Is(err, ErrOutcomeUnknown) || attempt == 10 {
				c.t.Fatalf("apply %q on %s: %v", cmd, lead, err)
			}
		}
		acks.add(cmd, last.Index)
	}
	return last
}

// snapshotOn takes a snapshot on id; with small TrailingLogs the log is
// compacted past its start, so a node with an empty log can only catch up
// by a snapshot.
func (c *testCluster) snapshotOn(id wire.NodeID) wire.SnapshotMeta {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	meta, err := c.node(id).Snapshot(ctx)
	if err != nil {
		c.t.Fatalf("snapshot on %s: %v", id, err)
	}
	return meta
}

// lostQuorumHistory is the history both tests below start from: in a
// 3-node cluster (no pre-vote, so every campaign is a real vote request;
// two trailing log entries, so the log is compacted), the committed
// entries up to last are held by the leader and by wiped only (stale was
// cut off while they were written; it is still cut off), the leader has
// taken snapshot snap, and then the leader and wiped are stopped and
// wiped's stores are emptied.
type lostQuorumHistory struct {
	c                  *testCluster
	lead, stale, wiped wire.NodeID
	acks               ackLog
	last               Applied
	snap               wire.SnapshotMeta
}

func newLostQuorumHistory(t *testing.T) *lostQuorumHistory {
	t.Helper()
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) {
		cfg.TrailingLogs = 2
		cfg.DisablePreVote = true
	}))
	c.start(true)
	h := &lostQuorumHistory{c: c, lead: c.waitLeader()}
	others := c.others(h.lead)
	h.stale, h.wiped = others[0], others[1]
	c.applyAll(&h.acks, "early", 3)

	c.isolate(h.stale)
	h.last = c.applyAll(&h.acks, "without-stale", 10, h.lead, h.wiped)
	waitFor(t, "the future wiped node to apply everything", func() bool {
		return c.nodes[h.wiped].fsm.lastIndex() >= h.last.Index
	})
	if got := c.nodes[h.stale].fsm.lastIndex(); got >= h.last.Index {
		t.Fatalf("the cut-off node applied up to %d", got)
	}
	h.snap = c.snapshotOn(h.lead)

	c.stopNode(h.lead)
	c.stopNode(h.wiped)
	c.wipe(h.wiped)
	return h
}

// The committed entries live on the leader L and the follower W only (the
// third node S was cut off while they were written). L goes down and W
// loses its data. S, now reconnected, campaigns again and again (without
// pre-vote, so every attempt is a real vote request): had W voted for it
// as a node with an empty log would under a naive up-to-date check, S
// would lead without the committed entries and overwrite them. W refuses
// every vote while it knows no configuration, so nobody leads until L
// returns; then L leads, W catches up by snapshot, and W counts towards a
// quorum again.
func TestLostDataNodeDoesNotVoteForLeaderMissingCommittedEntries(t *testing.T) {
	h := newLostQuorumHistory(t)
	c, lead, stale, wiped, last := h.c, h.lead, h.stale, h.wiped, h.last
	acks := &h.acks
	snap := h.snap
	c.net.Rejoin(c.nodes[stale].addr)
	c.startBlank(wiped)

	// The stale node campaigns with ever higher terms; the wiped node is
	// reachable all along. Watch until the stale node has asked for votes
	// several times: it must never lead, and the wiped node must take
	// neither its term nor give it a vote.
	startTerm := c.stats(stale).Term
	waitFor(t, "the stale node to campaign several times", func() bool {
		if c.node(stale).State() == Leader {
			t.Fatalf("%s leads without the committed entries up to %d", stale, last.Index)
		}
		return c.stats(stale).Term >= startTerm+4
	})
	if s := c.stats(wiped); s.Vote != wire.None || s.State == Leader || s.Commit != 0 {
		t.Fatalf("the wiped node acted on a stranger's messages: %+v", s)
	}

	// The old leader returns: only it holds every committed entry, so only
	// it can win, and the wiped node receives the state by snapshot.
	c.startNode(lead)
	if got := c.waitLeader(); got != lead {
		t.Fatalf("%s leads; only %s holds every committed entry", got, lead)
	}
	after := c.applyAll(acks, "after-return", 3)
	c.waitApplied(after.Index)
	c.checkFSMsAgree()
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	if metas, _ := c.nodes[wiped].snaps.List(); len(metas) == 0 || metas[0].Index < snap.Index {
		t.Fatalf("the wiped node caught up without the leader's snapshot at %d: it holds %+v", snap.Index, metas)
	}

	// It is a full voter again: with the other follower down, the leader
	// commits with the wiped node's acknowledgements alone.
	c.stopNode(stale)
	final := c.applyAll(acks, "quorum-with-wiped", 3)
	waitFor(t, "the wiped node to apply the last write", func() bool {
		return c.nodes[wiped].fsm.lastIndex() >= final.Index
	})
	acks.checkPresent(t, wiped, c.nodes[wiped].fsm)
	c.checkFSMsAgree()
}

// A follower loses its data while the leader keeps running. The leader's
// record of that follower (how much of the log it holds) is now wrong: the
// follower answers every append with an empty log. The leader must notice,
// bring it back by snapshot rather than wait forever for entries it
// believes are there, and never count the follower for entries it does
// not hold: with the third node down, a write commits only once the wiped
// follower truly stores it.
func TestLostDataFollowerIsBroughtBackBySnapshotWhileLeaderRuns(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.TrailingLogs = 2 }))
	c.start(true)
	lead := c.waitLeader()
	others := c.others(lead)
	wiped, third := others[0], others[1]
	var acks ackLog
	last := c.applyAll(&acks, "before-loss", 10)
	c.waitApplied(last.Index)
	snap := c.snapshotOn(lead)

	c.stopNode(wiped)
	c.wipe(wiped)
	c.startBlank(wiped)
	last = c.applyAll(&acks, "after-loss", 5)
	waitFor(t, "the wiped follower to catch up", func() bool {
		return c.nodes[wiped].fsm.lastIndex() >= last.Index
	})
	if metas, _ := c.nodes[wiped].snaps.List(); len(metas) == 0 || metas[0].Index < snap.Index {
		t.Fatalf("the wiped follower caught up without the leader's snapshot at %d: it holds %+v", snap.Index, metas)
	}
	c.checkFSMsAgree()

	c.stopNode(third)
	final := c.applyAll(&acks, "quorum-with-wiped", 3)
	waitFor(t, "the wiped follower to apply the last write", func() bool {
		return c.nodes[wiped].fsm.lastIndex() >= final.Index
	})
	for _, id := range c.running() {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	if li, _ := c.nodes[wiped].store.LastIndex(); li < final.Index {
		t.Fatalf("the wiped follower's log ends at %d, yet the write at %d committed with it", li, final.Index)
	}
	c.checkFSMsAgree()
}

// A founding member's daemon calls Bootstrap on every start (the package
// doc allows it). If the member lost its data directory, that call finds
// blank stores, and a naive Bootstrap would hand it the founding
// configuration again: it would no longer look like a stranger to the
// other members, and it would vote a node missing committed entries into
// office. The set-up is the first test's (the entries are committed on the
// old leader and this node only; the third node was cut off), but the
// wiped node bootstraps again before the third node campaigns. Bootstrap
// on blank stores first asks the other founding members what they hold:
// the stale node, once reachable, answers that it holds more than the
// founding configuration, so the wiped node never writes it and stays a
// blank member that votes for nobody until the leader sends it the state.
func TestLostDataFoundingMemberBootstrappedAgainDoesNotElectStaleLeader(t *testing.T) {
	h := newLostQuorumHistory(t)
	c, lead, stale, wiped, last := h.c, h.lead, h.stale, h.wiped, h.last
	acks := &h.acks
	n := c.startNode(wiped)
	if err := n.Bootstrap(c.conf); err != nil {
		t.Fatalf("bootstrap of the wiped founding member: %v", err)
	}
	if s := c.stats(wiped); len(s.AwaitingFounders) != 2 || len(s.Config.Servers) != 0 {
		t.Fatalf("the wiped member, with nobody answering, should wait for both others with nothing written: %+v", s)
	}
	c.net.Rejoin(c.nodes[stale].addr)
	waitFor(t, "the stale node's answer that it holds more than the founding configuration", func() bool {
		return len(c.stats(wiped).AwaitingFounders) == 0
	})
	if s := c.stats(wiped); len(s.Config.Servers) != 0 || s.LastIndex != 0 {
		t.Fatalf("the wiped member wrote the founding configuration again: %+v", s)
	}

	startTerm := c.stats(stale).Term
	waitFor(t, "the stale node to campaign several times", func() bool {
		if c.node(stale).State() == Leader {
			t.Fatalf("%s leads without the committed entries up to %d (the wiped founding member, bootstrapped again, voted for it: %+v)",
				stale, last.Index, c.stats(wiped))
		}
		return c.stats(stale).Term >= startTerm+4
	})
	if s := c.stats(wiped); s.Vote != wire.None || len(s.Config.Servers) != 0 {
		t.Fatalf("the wiped member voted or took a configuration from the stale node: %+v", s)
	}

	c.startNode(lead)
	lead2 := c.waitLeader()
	after := c.applyAll(acks, "after-return", 3)
	c.waitApplied(after.Index)
	c.checkFSMsAgree()
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	if lead2 != lead {
		t.Fatalf("%s leads; only %s held every committed entry", lead2, lead)
	}
}
