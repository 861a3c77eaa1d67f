package raft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
	"go.uber.org/goleak"
)

func TestApplyOnLeaderReturnsFSMResult(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	first := c.apply(lead, "a")
	second := c.apply(lead, "b")
	if second.Index <= first.Index || second.Term < first.Term {
		t.Fatalf("indexes do not increase: %+v then %+v", first, second)
	}
	if second.Result.Value != 2 || second.Result.Err != nil {
		t.Fatalf("FSM result: %+v, want value 2", second.Result)
	}
	// The command's own verdict travels back, and the command is committed.
	res := c.apply(lead, "reject")
	if !errors.Is(res.Result.Err, errRejected) {
		t.Fatalf("FSM verdict: %+v, want errRejected", res.Result)
	}
	c.waitApplied(res.Index)
	c.checkFSMsAgree()
}

func TestApplyOnFollowerIsForwardedAndReturnsFSMResult(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	follower := c.others(lead)[0]
	res := c.apply(follower, "via-follower")
	if res.Result.Value != 1 || res.Index == 0 {
		t.Fatalf("follower's Apply: %+v, want the FSM's value 1", res)
	}
	// The follower answered once its own FSM applied the entry.
	if got := c.nodes[follower].fsm.history()[res.Index]; got != "via-follower" {
		t.Fatalf("follower's FSM holds %q at %d", got, res.Index)
	}
	// The leader stamped the entry's time.
	ents := logOf(t, c.nodes[lead].store)
	for _, e := range ents {
		if e.Index == res.Index && (e.Time == 0 || e.Origin != follower) {
			t.Fatalf("entry %+v: want the leader's time and the follower as origin", e)
		}
	}
}

func TestApplyWithForwardingDisabledNamesTheLeader(t *testing.T) {
	c := newTestCluster(t, 3, withConfig(func(cfg *Config) { cfg.DisableForwarding = true }))
	c.start(true)
	lead := c.waitLeader()
	follower := c.others(lead)[0]
	waitFor(t, "the follower to know the leader", func() bool {
		l, _ := c.node(follower).Leader()
		return l == lead
	})
	_, err := c.node(follower).Apply(context.Background(), []byte("x"))
	var nl *NotLeaderError
	if !errors.As(err, &nl) || !errors.Is(err, ErrNotCommitted) || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("got %v, want a not-committed NotLeaderError", err)
	}
	if nl.LeaderID != lead || nl.LeaderAddress != c.nodes[lead].addr {
		t.Fatalf("NotLeaderError names %q at %q, want %q at %q", nl.LeaderID, nl.LeaderAddress, lead, c.nodes[lead].addr)
	}
	c.apply(lead, "on-leader")
}

func TestApplyWithEndedContextIsNotCommitted(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(true)
	c.waitLeader()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.node("n1").Apply(ctx, []byte("x"))
	if !errors.Is(err, ErrNotCommitted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want not committed (context canceled)", err)
	}
}

func TestApplyAfterShutdownIsNotCommitted(t *testing.T) {
	c := newTestCluster(t, 1)
	c.start(true)
	c.waitLeader()
	n := c.node("n1")
	c.stopNode("n1")
	_, err := n.Apply(context.Background(), []byte("x"))
	if !errors.Is(err, ErrNotCommitted) || !errors.Is(err, ErrShutdown) {
		t.Fatalf("got %v, want not committed (shutdown)", err)
	}
	if n.State() != Shutdown {
		t.Fatalf("state %v, want Shutdown", n.State())
	}
}

func TestConcurrentAppliesAreBatchedAndAllCommit(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	const workers, each = 16, 20
	var wg sync.WaitGroup
	var acks ackLog
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				cmd := fmt.Sprintf("w%d-%d", w, i)
				for attempt := 0; ; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
					res, err := c.node(c.ids[(w+i)%3]).Apply(ctx, []byte(cmd))
					cancel()
					if err == nil {
						acks.add(cmd, res.Index)
						break
					}
					// A spurious election on a loaded machine is no failure;
					// an error of another kind, or endless trouble, is.
					retryable := errors.Is(err, ErrNotCommitted) || errors.Is(err, ErrOutcomeUnknown)
					if !retryable || attempt == 20 {
						errs <- fmt.Errorf("%s: %w", cmd, err)
						return
					}
					time.Sleep(testHeartbeat)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final := c.apply(lead, "last")
	c.waitApplied(final.Index)
	for _, id := range c.ids {
		acks.checkPresent(t, id, c.nodes[id].fsm)
	}
	c.checkFSMsAgree()
	if f := c.nodes[lead].fsm; f.batches == 0 {
		t.Fatal("the BatchFSM's ApplyBatch was never used")
	}
}

// Proposal records are recycled once their outcome is delivered. Callers
// that give up at every stage (before their proposal is queued, while it
// waits in the loop's inbox, after the core took it) run beside callers
// that wait: each caller must get its own command's outcome, and under
// -race a record reused while the loop still reads it would be reported.
func TestGivingUpAndWaitingCallersEachGetTheirOwnOutcome(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	n := c.node(lead)
	const workers, each = 16, 60
	var wg sync.WaitGroup
	var acks ackLog
	var committed atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				cmd := fmt.Sprintf("w%d-%d", w, i)
				timeout := waitDeadline
				if w%2 == 1 {
					// From already over to about one commit's time.
					timeout = time.Duration(i%8) * 50 * time.Microsecond
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				res, err := n.Apply(ctx, []byte(cmd))
				cancel()
				switch {
				case err == nil:
					acks.add(cmd, res.Index)
					committed.Add(1)
				case errors.Is(err, ErrNotCommitted) || errors.Is(err, ErrOutcomeUnknown):
				default:
					t.Errorf("%s: unexpected error %v", cmd, err)
				}
			}
		}(w)
	}
	wg.Wait()
	if committed.Load() == 0 {
		t.Fatal("no command committed: the test checked nothing")
	}
	final := c.apply(lead, "last")
	c.waitApplied(final.Index)
	acks.checkPresent(t, lead, c.nodes[lead].fsm)
}

func TestBarrierWaitsForCommittedEntries(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	res := c.apply(lead, "x")
	follower := c.others(lead)[0]
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	if err := c.node(follower).Barrier(ctx); err != nil {
		t.Fatalf("barrier on follower: %v", err)
	}
	if got := c.nodes[follower].fsm.lastIndex(); got < res.Index {
		t.Fatalf("after the barrier the follower applied %d, want >= %d", got, res.Index)
	}
}

func TestShutdownLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	c.apply(lead, "x")
	// Callers still waiting when the node stops get an answer.
	c.isolate(lead)
	errc := make(chan error, 1)
	go func() {
		_, err := c.node(lead).Apply(context.Background(), []byte("pending"))
		errc <- err
	}()
	c.shutdown()
	if err := <-errc; !errors.Is(err, ErrShutdown) && !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("pending Apply at shutdown: %v", err)
	}
	goleak.VerifyNone(t, before)
}

// TestStateNamesMatchCore pins the mapping of core roles to State.
func TestStateNamesMatchCore(t *testing.T) {
	for cs, want := range map[core.StateType]State{
		core.StateFollower: Follower, core.StateCandidate: Candidate,
		core.StateLeader: Leader, core.StatePreCandidate: PreCandidate,
	} {
		if got := stateOf(cs); got != want || got.String() != cs.String() {
			t.Errorf("stateOf(%v) = %v", cs, got)
		}
	}
	_ = wire.None
}

// slowFSM blocks every Apply until released. It is deliberately not a
// BatchFSM.
type slowFSM struct {
	inner *testFSM
	gate  chan struct{}
}

func (f *slowFSM) Apply(c fsm.Command) fsm.Result {
	<-f.gate
	return f.inner.Apply(c)
}

func (f *slowFSM) Snapshot() (fsm.Snapshot, error) { return f.inner.Snapshot() }
func (f *slowFSM) Restore(r io.Reader) error       { return f.inner.Restore(r) }

func TestSlowFSMPushesBackOnProposersInsteadOfQueueingWithoutBound(t *testing.T) {
	old := maxBacklog
	maxBacklog = 64
	defer func() { maxBacklog = old }()
	const batch = 16

	c := newTestCluster(t, 1, withConfig(func(cfg *Config) { cfg.MaxAppendEntries = batch }))
	c.start(true)
	c.waitLeader()
	// Restart n1 on an FSM (not a BatchFSM) that applies nothing until the
	// gate opens.
	c.stopNode("n1")
	tn := c.nodes["n1"]
	tr, err := c.net.NewTransport(tn.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	slow := &slowFSM{inner: newTestFSM(), gate: make(chan struct{})}
	n, err := NewNode(c.config("n1"), slow, tn.store, tn.snaps, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	waitFor(t, "n1 to lead again", func() bool {
		_ = n.Campaign(context.Background())
		time.Sleep(testElection)
		return n.State() == Leader
	})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				_, _ = n.Apply(ctx, []byte("x"))
				cancel()
			}
		}()
	}
	var peak int64
	sample := func() { peak = max(peak, n.applyBacklog.Load()+n.persistBacklog.Load()) }
	// The load must reach the bound, or the test proves nothing; then it
	// keeps pushing for a while.
	waitFor(t, "the backlog to reach its bound", func() bool { sample(); return peak >= maxBacklog })
	for i := 0; i < 100; i++ {
		time.Sleep(5 * time.Millisecond)
		sample()
	}
	close(stop)
	wg.Wait()
	close(slow.gate)
	// Past the bound, only proposals already handed to the core can still
	// arrive: one batch, and what was on its way to the disk.
	if limit := 3*maxBacklog + batch; peak > limit {
		t.Fatalf("the backlog grew to %d entries while the FSM was stuck; it should stay under %d", peak, limit)
	}
	waitFor(t, "the backlog to drain once the FSM moves", func() bool {
		return n.applyBacklog.Load() == 0 && n.persistBacklog.Load() == 0
	})
}

func TestEveryReplicaSeesTheLeadersTimeForACommand(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(true)
	lead := c.waitLeader()
	follower := c.others(lead)[0]
	before := time.Now()
	var results []Applied
	results = append(results, c.apply(lead, "on-leader"), c.apply(follower, "forwarded"))
	after := time.Now()
	for _, res := range results {
		c.waitApplied(res.Index)
		want, ok := c.nodes[lead].fsm.timeAt(res.Index)
		if !ok || want.Before(before.Add(-time.Second)) || want.After(after.Add(time.Second)) {
			t.Fatalf("leader's time for index %d is %v, not around %v..%v", res.Index, want, before, after)
		}
		for _, id := range c.ids {
			if got, _ := c.nodes[id].fsm.timeAt(res.Index); !got.Equal(want) {
				t.Fatalf("%s saw time %v for index %d, the leader %v", id, got, res.Index, want)
			}
		}
	}
}
