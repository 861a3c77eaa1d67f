package raft

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

func TestReloadableConfigValidateReportsEveryProblem(t *testing.T) {
	rc := ReloadableConfig{HeartbeatTimeout: -time.Second, ElectionTimeout: -2 * time.Second, SnapshotInterval: -time.Minute}
	err := rc.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate() = %v, want the problems joined", err)
	}
	for _, e := range joined.Unwrap() {
		if !errors.Is(e, ErrInvalidConfig) {
			t.Errorf("problem %v does not wrap ErrInvalidConfig", e)
		}
	}
	for _, want := range []string{"HeartbeatTimeout", "ElectionTimeout -2s is negative", "must exceed", "SnapshotInterval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, missing %q", err, want)
		}
	}
	if n := len(joined.Unwrap()); n != 4 {
		t.Errorf("Validate() reported %d problems, want 4: %v", n, err)
	}
}

func TestReloadableConfigZeroFieldsMeanDefaults(t *testing.T) {
	if err := (ReloadableConfig{}).Validate(); err != nil {
		t.Fatalf("zero ReloadableConfig: %v", err)
	}
	// A default heartbeat (100ms) and an election timeout below it.
	if err := (ReloadableConfig{ElectionTimeout: 50 * time.Millisecond}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("election timeout below the default heartbeat: %v, want ErrInvalidConfig", err)
	}
	got := ReloadableConfig{}.withDefaults()
	want := ReloadableConfig{DefaultHeartbeatTimeout, DefaultElectionTimeout, DefaultSnapshotThreshold, DefaultSnapshotInterval, DefaultTrailingLogs}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
}

func TestReloadRefusesInvalidConfigAndChangesNothing(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(true)
	n := c.node("n1")
	before := n.ReloadableConfig()
	want := ReloadableConfig{testHeartbeat, testElection, 1 << 40, time.Hour, DefaultTrailingLogs}
	if before != want {
		t.Fatalf("ReloadableConfig() = %+v, want the started %+v", before, want)
	}
	bad := before
	bad.ElectionTimeout = bad.HeartbeatTimeout
	bad.SnapshotInterval = -time.Second
	err := n.Reload(bad)
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "must exceed") || !strings.Contains(err.Error(), "SnapshotInterval") {
		t.Fatalf("Reload(invalid) = %v, want both problems wrapping ErrInvalidConfig", err)
	}
	if got := n.ReloadableConfig(); got != before {
		t.Fatalf("after a refused Reload: %+v, want unchanged %+v", got, before)
	}
	// The node still works.
	c.waitLeader()
	c.apply("n1", "after-refused-reload")
}

func TestReloadOnStoppedNodeFails(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(true)
	n := c.node("n1")
	c.stopNode("n1")
	if err := n.Reload(ReloadableConfig{}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Reload on a stopped node = %v, want ErrShutdown", err)
	}
}

// reloadAll reloads every running node with rc changed by f.
func (c *testCluster) reloadAll(f func(*ReloadableConfig)) {
	c.t.Helper()
	for _, id := range c.running() {
		rc := c.node(id).ReloadableConfig()
		f(&rc)
		if err := c.node(id).Reload(rc); err != nil {
			c.t.Fatalf("reload %s: %v", id, err)
		}
		if got := c.node(id).ReloadableConfig(); got != rc {
			c.t.Fatalf("%s reports %+v after reloading %+v", id, got, rc)
		}
	}
}

// staysFollowers fails the test if any of ids leaves the follower role
// within d. It proves a timeout longer than d is in force: under the
// started timeouts, d is many election timeouts.
func (c *testCluster) staysFollowers(d time.Duration, ids ...wire.NodeID) {
	c.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		for _, id := range ids {
			if s := c.node(id).State(); s != Follower {
				c.t.Fatalf("%s became %v: the reloaded election timeout is not in force", id, s)
			}
		}
	}
}

func TestReloadElectionTimeoutAtRunTime(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	c.apply(lead, "before")

	// An election timeout far beyond the test: cut off from their leader,
	// the followers wait instead of electing a new one within ten of the
	// started election timeouts.
	c.reloadAll(func(rc *ReloadableConfig) { rc.ElectionTimeout = time.Hour })
	c.isolate(lead)
	others := c.others(lead)
	c.staysFollowers(10*testElection, others...)

	// Back to a short timeout (shorter than the started one, with a longer
	// heartbeat): the followers, long without a leader, elect one among
	// themselves at once, and it commits.
	for _, id := range others {
		rc := c.node(id).ReloadableConfig()
		rc.HeartbeatTimeout, rc.ElectionTimeout = 2*testHeartbeat, testElection/2
		if err := c.node(id).Reload(rc); err != nil {
			t.Fatal(err)
		}
	}
	next := c.waitLeader(others...)
	res := c.apply(next, "after")
	waitFor(t, "the remaining nodes to apply", func() bool {
		for _, id := range others {
			if c.nodes[id].fsm.lastIndex() < res.Index {
				return false
			}
		}
		return true
	})
	if !c.nodes[next].fsm.contains("before") || !c.nodes[next].fsm.contains("after") {
		t.Fatal("the new leader's FSM lacks a committed command")
	}
}

func TestReloadedTimeoutsSurviveBootstrap(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(false)
	// Bootstrap recreates the core; the reloaded timeouts must carry over.
	c.reloadAll(func(rc *ReloadableConfig) { rc.ElectionTimeout = time.Hour })
	for _, id := range c.ids {
		if err := c.node(id).Bootstrap(c.conf); err != nil {
			t.Fatalf("bootstrap %s: %v", id, err)
		}
	}
	c.staysFollowers(10*testElection, c.ids...)
	c.reloadAll(func(rc *ReloadableConfig) { rc.ElectionTimeout = testElection })
	lead := c.waitLeader()
	c.apply(lead, "elected-after-reload")
}

func TestReloadLoweredSnapshotThresholdMakesNodeSnapshot(t *testing.T) {
	// The test cluster starts with snapshots practically off (a threshold
	// of 2^40 entries, checked hourly).
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	var last Applied
	for i := range 30 {
		last = c.apply(lead, fmt.Sprintf("c%d", i))
	}
	c.waitApplied(last.Index)
	for _, id := range c.ids {
		if s := c.stats(id).SnapshotIndex; s != 0 {
			t.Fatalf("%s snapshotted at %d before the reload", id, s)
		}
	}

	const trailing = 5
	c.reloadAll(func(rc *ReloadableConfig) {
		rc.SnapshotThreshold, rc.SnapshotInterval, rc.TrailingLogs = 10, 20*time.Millisecond, trailing
	})
	waitFor(t, "every node to snapshot under the reloaded policy", func() bool {
		for _, id := range c.ids {
			if c.stats(id).SnapshotIndex < last.Index {
				return false
			}
		}
		return true
	})
	for _, id := range c.ids {
		s := c.stats(id)
		if want := s.SnapshotIndex - trailing + 1; s.FirstIndex != want {
			t.Errorf("%s: log starts at %d after a snapshot at %d, want %d (TrailingLogs %d)",
				id, s.FirstIndex, s.SnapshotIndex, want, trailing)
		}
	}
	res := c.apply(lead, "after-snapshot")
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}
