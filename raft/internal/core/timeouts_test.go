package core

import (
	"errors"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// newFollower returns a fresh follower n1 of the voters n1 n2 n3 with the
// given tick counts.
func newFollower(t *testing.T, electionTick, heartbeatTick int) (*RawNode, *memStorage) {
	t.Helper()
	st := newMemStorageWith(mustBootstrap(t, "n1", "n2", "n3"))
	c := testConfig("n1", st)
	c.ElectionTick, c.HeartbeatTick = electionTick, heartbeatTick
	c.HardState = wire.HardState{Term: 1}
	rn, err := NewRawNode(c)
	if err != nil {
		t.Fatal(err)
	}
	return rn, st
}

// ticksToCampaign ticks rn until it leaves the follower role and returns
// how many ticks that took, failing after limit.
func ticksToCampaign(t *testing.T, rn *RawNode, st *memStorage, limit int) int {
	t.Helper()
	for i := 1; i <= limit; i++ {
		rn.Tick()
		drain(t, rn, st)
		if rn.Status().SoftState.State != StateFollower {
			return i
		}
	}
	t.Fatalf("no campaign within %d ticks", limit)
	return 0
}

func TestSetTimeoutsRefusesWhatConfigRefuses(t *testing.T) {
	rn, st := newFollower(t, 10, 1)
	for _, c := range []struct{ el, hb int }{{0, 0}, {5, 0}, {5, 5}, {4, 5}, {5, -1}} {
		if err := rn.SetTimeouts(c.el, c.hb); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("SetTimeouts(%d, %d) = %v, want ErrInvalidConfig", c.el, c.hb, err)
		}
	}
	// The refused calls changed nothing: the follower campaigns within
	// [10, 20) ticks as configured.
	if n := ticksToCampaign(t, rn, st, 20); n < 10 {
		t.Fatalf("campaigned after %d ticks, want at least the configured 10", n)
	}
}

func TestSetTimeoutsLongerElectionTimeoutDelaysCampaign(t *testing.T) {
	rn, st := newFollower(t, 10, 1)
	rn.Tick()
	if err := rn.SetTimeouts(50, 5); err != nil {
		t.Fatal(err)
	}
	// The draw is redone in [50, 100); one tick already elapsed.
	n := 1 + ticksToCampaign(t, rn, st, 100)
	if n < 50 || n >= 100 {
		t.Fatalf("campaigned after %d ticks, want within [50, 100)", n)
	}
}

func TestSetTimeoutsShorterElectionTimeoutTakesEffectWithoutReset(t *testing.T) {
	rn, st := newFollower(t, 100, 10)
	if err := rn.SetTimeouts(5, 1); err != nil {
		t.Fatal(err)
	}
	// Without the redraw the follower would wait at least the old 100.
	n := ticksToCampaign(t, rn, st, 200)
	if n < 5 || n >= 10 {
		t.Fatalf("campaigned after %d ticks, want within [5, 10)", n)
	}
}

func TestSetTimeoutsElapsedTimeCountsTowardsNewTimeout(t *testing.T) {
	rn, st := newFollower(t, 100, 10)
	for range 30 {
		rn.Tick()
	}
	drain(t, rn, st)
	if rn.Status().SoftState.State != StateFollower {
		t.Fatal("campaigned before its configured timeout")
	}
	// 30 ticks without a leader already exceed the new timeout [5, 10).
	if err := rn.SetTimeouts(5, 1); err != nil {
		t.Fatal(err)
	}
	if n := ticksToCampaign(t, rn, st, 1); n != 1 {
		t.Fatalf("campaigned after %d more ticks, want 1", n)
	}
}

func TestSetTimeoutsChangesLeaderHeartbeatInterval(t *testing.T) {
	rn, st := newFollower(t, 20, 1)
	makeLeader(t, rn, st)
	beats := func(ticks int) int {
		n := 0
		for range ticks {
			rn.Tick()
			n += len(filter(drain(t, rn, st), wire.MsgHeartbeat, "n2"))
		}
		return n
	}
	if got := beats(12); got != 12 {
		t.Fatalf("%d heartbeats to n2 in 12 ticks at HeartbeatTick 1, want 12", got)
	}
	if err := rn.SetTimeouts(20, 4); err != nil {
		t.Fatal(err)
	}
	if got := beats(12); got != 3 {
		t.Fatalf("%d heartbeats to n2 in 12 ticks at HeartbeatTick 4, want 3", got)
	}
}

func TestSetTimeoutsSameValuesIsNoOp(t *testing.T) {
	rn, st := newFollower(t, 10, 1)
	before := rn.raft.randomizedElectionTimeout
	if err := rn.SetTimeouts(10, 1); err != nil {
		t.Fatal(err)
	}
	if after := rn.raft.randomizedElectionTimeout; after != before {
		t.Fatalf("randomized timeout redrawn from %d to %d by an unchanged setting", before, after)
	}
	if n := ticksToCampaign(t, rn, st, 20); n != before {
		t.Fatalf("campaigned after %d ticks, want the drawn %d", n, before)
	}
}
