package raft

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

func isNotCommitted(err error) bool { return errors.Is(err, ErrNotCommitted) }

func TestFirstElectionChoosesOneLeaderAllFollow(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	for _, id := range c.ids {
		st := c.stats(id)
		if st.Term < 2 {
			t.Errorf("%s: term %d, want >= 2 (bootstrap is term 1)", id, st.Term)
		}
		if st.Leader != lead {
			t.Errorf("%s follows %q, want %q", id, st.Leader, lead)
		}
	}
	if _, addr := c.node(c.others(lead)[0]).Leader(); addr != c.nodes[lead].addr {
		t.Errorf("follower reports leader address %q, want %q", addr, c.nodes[lead].addr)
	}
	if st := c.stats(lead); len(st.Progress) != 3 {
		t.Errorf("leader reports progress for %d members, want 3", len(st.Progress))
	}
}

func TestLeaderCrashElectsNewLeaderThatCommits(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	var acks ackLog
	old := c.waitLeader()
	res := c.apply(old, "before-crash")
	acks.add("before-crash", res.Index)

	c.stopNode(old)
	lead := c.waitLeader()
	if lead == old {
		t.Fatalf("stopped node %s still leads", old)
	}
	res = c.apply(lead, "after-crash")
	acks.add("after-crash", res.Index)

	c.startNode(old)
	c.waitApplied(res.Index)
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	c.checkFSMsAgree()
}

func TestObserverSeesLeaderChanges(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(false)
	ch := make(chan LeaderChange, 16)
	stop := c.node("n1").Observe(ch)
	defer stop()
	for _, id := range c.ids {
		if err := c.node(id).Bootstrap(c.conf); err != nil {
			t.Fatal(err)
		}
	}
	lead := c.waitLeader()
	deadline := time.After(waitDeadline)
	for {
		select {
		case lc := <-ch:
			if lc.Leader == lead {
				if lc.Term < 2 {
					t.Fatalf("leader change reports term %d", lc.Term)
				}
				return
			}
		case <-deadline:
			t.Fatal("observer never saw the leader")
		}
	}
}

func TestBootstrapTwiceIsIdempotentButDifferentConfigIsRefused(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(true)
	n := c.node("n1")
	if err := n.Bootstrap(c.conf); err != nil {
		t.Fatalf("same bootstrap again: %v", err)
	}
	other := wire.Configuration{Servers: []wire.Server{{ID: "n1", Address: "elsewhere"}}}
	if err := n.Bootstrap(other); !errors.Is(err, ErrAlreadyBootstrapped) {
		t.Fatalf("different bootstrap: got %v, want ErrAlreadyBootstrapped", err)
	}
	c.waitLeader()
	c.apply("n1", "x")
}

func TestPartitionedOldLeaderCannotCommitAndIsOverwritten(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	old := c.waitLeader()
	c.apply(old, "committed-first")

	c.isolate(old)
	// The isolated leader appends the command but can never commit it.
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
		defer cancel()
		_, err := c.node(old).Apply(ctx, []byte("doomed"))
		errc <- err
	}()
	rest := c.others(old)
	lead := c.waitLeader(rest...)
	res := c.apply(lead, "majority-write")

	err := <-errc
	if err == nil {
		t.Fatal("an isolated leader acknowledged a write")
	}
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("isolated leader's Apply: got %v, want an outcome-unknown error", err)
	}

	c.net.Heal()
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
	for _, id := range c.ids {
		if c.nodes[id].fsm.contains("doomed") {
			t.Fatalf("%s applied the uncommitted write of the isolated leader", id)
		}
		if !c.nodes[id].fsm.contains("majority-write") {
			t.Fatalf("%s lacks the majority's write", id)
		}
	}
	// The old leader's log was repaired: its entry at the doomed index now
	// matches the new leader's.
	oldLog, newLog := logOf(t, c.nodes[old].store), logOf(t, c.nodes[lead].store)
	for i := range min(len(oldLog), len(newLog)) {
		if oldLog[i].Index <= res.Index && (oldLog[i].Term != newLog[i].Term || string(oldLog[i].Data) != string(newLog[i].Data)) {
			t.Fatalf("logs differ at %d after the heal: %+v vs %+v", oldLog[i].Index, oldLog[i], newLog[i])
		}
	}
}

func TestFiveNodesCommitWithTwoDownAndStopWithThree(t *testing.T) {
	c := newTestCluster(t, 5)
	c.start(true)
	var acks ackLog
	lead := c.waitLeader()
	res := c.apply(lead, "all-up")
	acks.add("all-up", res.Index)

	// Two followers down: a quorum of three remains.
	down := c.others(lead)[:2]
	for _, id := range down {
		c.stopNode(id)
	}
	res = c.applyRetry("two-down")
	acks.add("two-down", res.Index)

	// A third node down: no quorum, nothing commits.
	lead = c.waitLeader()
	third := c.others(lead)
	for _, id := range third {
		if c.node(id) != nil {
			c.stopNode(id)
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*testElection)
	_, err := c.node(lead).Apply(ctx, []byte("no-quorum"))
	cancel()
	if err == nil {
		t.Fatal("a write was acknowledged without a quorum")
	}
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Apply without quorum: got %v, want outcome unknown", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("Apply without quorum: cause is %v, want the deadline or lost leadership", err)
	}

	// Everyone back: every acknowledged write survives.
	for _, id := range c.ids {
		if c.node(id) == nil {
			c.startNode(id)
		}
	}
	final := c.applyRetry("all-back")
	acks.add("all-back", final.Index)
	c.waitApplied(final.Index)
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	c.checkFSMsAgree()
}

// Stability tests use a longer election timeout than the others: on a
// shared, loaded test machine a 100ms timeout can expire for want of CPU
// alone, which is an election Raft is right to hold.
const (
	stableHeartbeat = 20 * time.Millisecond
	stableElection  = 400 * time.Millisecond
)

func withStableTimeouts() clusterOpt {
	return withConfig(func(cfg *Config) {
		cfg.HeartbeatTimeout = stableHeartbeat
		cfg.ElectionTimeout = stableElection
	})
}

// termStable waits a number of election timeouts and reports whether the
// term and leader of the given nodes stayed as they were.
func termStable(t *testing.T, c *testCluster, lead wire.NodeID, watch []wire.NodeID, timeouts int) {
	t.Helper()
	term := c.stats(lead).Term
	for i := 0; i < timeouts; i++ {
		time.Sleep(stableElection)
		for _, id := range watch {
			st := c.stats(id)
			if st.Term != term {
				t.Fatalf("after %d election timeouts %s is at term %d (leader %q), want the stable term %d under %s",
					i+1, id, st.Term, st.Leader, term, lead)
			}
		}
		if c.node(lead).State() != Leader {
			t.Fatalf("after %d election timeouts %s no longer leads", i+1, lead)
		}
	}
}

func TestPartialPartitionKeepsOneStableLeader(t *testing.T) {
	c := newTestCluster(t, 5, withStableTimeouts())
	c.start(true)
	// Bring n1 to power, then cut links so that n1-n2-n3 are meshed, n4
	// reaches only n2 and n5 only n3.
	waitFor(t, "n1 to lead", func() bool {
		lead := c.waitLeader()
		if lead == "n1" {
			return true
		}
		_ = c.node(lead).TransferLeadership(context.Background(), "n1")
		time.Sleep(stableElection)
		return false
	})
	c.apply("n1", "before-partial-partition")
	for _, pair := range [][2]wire.NodeID{{"n4", "n1"}, {"n4", "n3"}, {"n4", "n5"}, {"n5", "n1"}, {"n5", "n2"}} {
		c.cut(pair[0], pair[1])
		c.cut(pair[1], pair[0])
	}
	termStable(t, c, "n1", []wire.NodeID{"n1", "n2", "n3"}, 6)
	c.apply("n1", "during-partial-partition")
}

func TestLeaderThatCanSendButNotReceiveStepsDown(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	old := c.waitLeader()
	for _, id := range c.others(old) {
		c.cut(id, old)
	}
	waitFor(t, "the deaf leader to step down", func() bool { return c.node(old).State() != Leader })
	lead := c.waitLeader(c.others(old)...)
	c.apply(lead, "after-deaf-leader")
}

func TestRejoiningNodeDoesNotDeposeHealthyLeader(t *testing.T) {
	c := newTestCluster(t, 3, withStableTimeouts())
	c.start(true)
	lead := c.waitLeader()
	loner := c.others(lead)[0]
	c.isolate(loner)
	// Long enough for many election timeouts: with pre-vote its term must
	// not grow.
	time.Sleep(5 * stableElection)
	if st := c.stats(loner); st.Term != c.stats(lead).Term {
		t.Fatalf("isolated node's term moved to %d (leader's %d): pre-vote should keep it", st.Term, c.stats(lead).Term)
	}
	c.net.Heal()
	res := c.apply(lead, "after-rejoin")
	c.waitApplied(res.Index)
	termStable(t, c, lead, c.ids, 4)
}

func TestObserverThatNeverReadsDoesNotBlockTheNode(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(false)
	stuck := make(chan LeaderChange) // unbuffered, never read
	for _, id := range c.ids {
		defer c.node(id).Observe(stuck)()
	}
	for _, id := range c.ids {
		if err := c.node(id).Bootstrap(c.conf); err != nil {
			t.Fatal(err)
		}
	}
	lead := c.waitLeader()
	res := c.apply(lead, "observed")
	c.waitApplied(res.Index)
	c.stopNode(lead)
	c.waitLeader()
}
