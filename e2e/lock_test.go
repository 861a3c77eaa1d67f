//go:build unix

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// holding is one interval in which a client considered itself the lock's
// holder.
type holding struct {
	owner      string
	token      uint64
	start, end time.Time
}

// lockClients compete for one lock through every node. Each acquisition
// uses a fresh owner name (so that an acquire is never the holder's
// idempotent re-acquire, which would return an older lease) and a request
// id reused on every retry.
type lockClients struct {
	c      *Cluster
	name   string
	ttl    time.Duration
	margin time.Duration

	mu         sync.Mutex
	holdings   []holding
	unexpected []error
}

// lockTTL is the lease the clients ask for, and lockMargin what they
// give up of it: they stop using the lock lockMargin before the lease
// ends by their own count.
const (
	lockTTL    = 800 * time.Millisecond
	lockMargin = 50 * time.Millisecond
)

func (lc *lockClients) fail(err error) {
	lc.mu.Lock()
	lc.unexpected = append(lc.unexpected, err)
	lc.mu.Unlock()
}

func (lc *lockClients) count() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return len(lc.holdings)
}

// run is one client. Its holding starts when it reads a grant, and ends
// at the earliest of: its release request, and the lease's end by its own
// count — the send of the acquire (or of a successful renew) plus the
// TTL, since the leader stamps the lease's start no earlier than it
// received the command — or the leader-stamped expiry, each minus the
// margin. The leader's stamp is wall-clock time of this same host.
//
// An acquire is sent once, with a short timeout: a client whose acquire
// has no definite answer abandons that owner name (which may then hold
// the lock, unused, until its lease runs out) rather than retry it,
// because a retry answered with an earlier attempt's grant could only be
// timed from the first send and would usually be too late to use.
func (lc *lockClients) run(stop <-chan struct{}, id int, wg *sync.WaitGroup) {
	defer wg.Done()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	nodes := lc.c.Nodes
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		owner := fmt.Sprintf("c%d-%d", id, k)
		node := nodes[(id+k)%len(nodes)]
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		sent := time.Now()
		granted, err := node.C.AcquireLock(ctx, lc.name, client.LockAcquireRequest{RequestID: owner, Owner: owner, TTLMillis: lc.ttl.Milliseconds()})
		cancel()
		start := time.Now()
		switch {
		case err != nil && transient(err):
			time.Sleep(20 * time.Millisecond)
			continue // maybe granted, never used: safe
		case client.CodeOf(err) == client.CodeLockHeld:
			time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
			continue
		case err != nil:
			lc.fail(fmt.Errorf("acquire by %s: %w", owner, err))
			continue
		case granted.Holder != owner || granted.Token == 0 || granted.ExpiresAt == nil:
			lc.fail(fmt.Errorf("acquire by %s answered %+v", owner, granted))
			continue
		}
		end := leaseEnd(sent, lc.ttl, *granted.ExpiresAt, lc.margin)
		if !end.After(start) {
			continue // the answer came too late to use
		}
		h := holding{owner: owner, token: granted.Token, start: start, end: end}

		// Work while holding it, perhaps renew (once, through the node
		// that granted it), then release.
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if rng.IntN(2) == 0 && time.Now().Before(h.end) {
			rctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			rsent := time.Now()
			renewed, err := node.C.RenewLock(rctx, lc.name, client.LockRenewRequest{RequestID: owner + "-renew", Owner: owner, Token: h.token, TTLMillis: lc.ttl.Milliseconds()})
			cancel()
			if err == nil && renewed.Holder == owner && renewed.Token == h.token && renewed.ExpiresAt != nil {
				if e := leaseEnd(rsent, lc.ttl, *renewed.ExpiresAt, lc.margin); e.After(h.end) {
					h.end = e
				}
				time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			}
		}
		if rel := time.Now(); rel.Before(h.end) {
			h.end = rel // the holder stops using the lock before it asks to release it
		}
		lc.mu.Lock()
		lc.holdings = append(lc.holdings, h)
		lc.mu.Unlock()
		// Best effort: a release that does not get through leaves the
		// lease to run out.
		rctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, _ = node.C.ReleaseLock(rctx, lc.name, client.LockReleaseRequest{RequestID: owner + "-release", Owner: owner, Token: h.token})
		cancel()
	}
}

// leaseEnd is when a holder must stop using a lease granted (or renewed)
// by a request first sent at sent.
func leaseEnd(sent time.Time, ttl time.Duration, expiresAt time.Time, margin time.Duration) time.Time {
	end := sent.Add(ttl)
	if expiresAt.Before(end) {
		end = expiresAt
	}
	return end.Add(-margin)
}

// holdingViolations lists every pair of holdings that overlap, and every
// fencing token that does not increase in the order the holdings began.
// Empty holdings (ending before they start) are no holdings at all.
func holdingViolations(all []holding) []string {
	var hs []holding
	for _, h := range all {
		if h.end.After(h.start) {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].start.Before(hs[j].start) })
	var out []string
	for i := range hs {
		for j := i + 1; j < len(hs); j++ {
			a, b := hs[i], hs[j]
			if b.start.Before(a.end) {
				out = append(out, fmt.Sprintf("overlapping holders: %s (token %d) from %s to %s and %s (token %d) from %s",
					a.owner, a.token, a.start.Format("15:04:05.000"), a.end.Format("15:04:05.000"),
					b.owner, b.token, b.start.Format("15:04:05.000")))
			}
			if a.token >= b.token {
				out = append(out, fmt.Sprintf("fencing token did not increase: %s held token %d before %s held %d", a.owner, a.token, b.owner, b.token))
			}
		}
	}
	return out
}

// TestLockHoldersNeverOverlap runs clients competing for one lock through
// all three nodes while the leader is killed, a follower is killed, and a
// leader is paused with SIGSTOP past an election timeout and resumed; each
// killed node is restarted from its data. No two clients may ever hold the
// lock at once by their own conservative count, and fencing tokens must
// strictly increase.
func TestLockHoldersNeverOverlap(t *testing.T) {
	c := StartCluster(t, Options{Nodes: 3, FSM: "lock"})
	lc := &lockClients{c: c, name: "job", ttl: lockTTL, margin: lockMargin}
	began := time.Now()
	logf := func(format string, args ...any) {
		t.Helper()
		t.Logf("%6.2fs "+format, append([]any{time.Since(began).Seconds()}, args...)...)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go lc.run(stop, i, &wg)
	}
	stopped := false
	stopClients := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer stopClients()
	waitHoldings := func(n int, when string) {
		t.Helper()
		if err := poll(25*time.Second, func() error {
			if got := lc.count(); got < n {
				return fmt.Errorf("%d holdings, want %d", got, n)
			}
			return nil
		}); err != nil {
			t.Fatalf("void run: too little progress %s: %v", when, err)
		}
	}

	waitHoldings(8, "before the first fault")
	lead := c.WaitLeader(c.Nodes...)
	logf("SIGKILL leader %s after %d holdings", lead.ID, lc.count())
	c.Kill(lead)
	c.WaitLeader(c.Others(lead)...)
	waitHoldings(lc.count()+4, "after the leader was killed")
	c.Start(lead)

	lead = c.WaitLeader(c.Nodes...)
	follower := c.Others(lead)[0]
	logf("SIGKILL follower %s after %d holdings", follower.ID, lc.count())
	c.Kill(follower)
	waitHoldings(lc.count()+4, "after a follower was killed")
	c.Start(follower)

	lead = c.WaitLeader(c.Nodes...)
	logf("SIGSTOP leader %s after %d holdings", lead.ID, lc.count())
	c.Pause(lead)
	c.WaitLeader(c.Others(lead)...)
	waitHoldings(lc.count()+4, "while the old leader was paused")
	logf("SIGCONT %s after %d holdings", lead.ID, lc.count())
	c.Resume(lead)
	c.WaitLeader(c.Nodes...)
	waitHoldings(lc.count()+4, "after the old leader resumed")
	stopClients()

	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, err := range lc.unexpected {
		t.Errorf("unexpected answer: %v", err)
	}
	logf("%d holdings checked", len(lc.holdings))
	for _, v := range holdingViolations(lc.holdings) {
		t.Error(v)
	}
}
