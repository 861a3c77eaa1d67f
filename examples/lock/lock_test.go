package lock

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

func TestAcquireRenewRelease(t *testing.T) {
	d := newDriver(t)
	g := d.ok(0, Acquire{Name: "db", Owner: "a", TTL: 10 * time.Second})
	if g.Holder != "a" || g.Token != 1 || !g.Expiry.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("grant %+v", g)
	}
	// Acquiring again as the holder returns the same lease (a retry).
	if again := d.ok(time.Second, Acquire{Name: "db", Owner: "a", TTL: time.Minute}); again.Token != 1 || !again.Expiry.Equal(g.Expiry) {
		t.Fatalf("re-acquire %+v", again)
	}
	if r := d.do(time.Second, Acquire{Name: "db", Owner: "b", TTL: time.Second}); !errors.Is(r.Err, ErrLockHeld) {
		t.Fatalf("got %v, want ErrLockHeld", r.Err)
	}
	if r := d.do(time.Second, Renew{Name: "db", Owner: "b", Token: 1, TTL: time.Second}); !errors.Is(r.Err, ErrNotHolder) {
		t.Fatalf("renew by a stranger: got %v, want ErrNotHolder", r.Err)
	}
	if r := d.do(time.Second, Release{Name: "db", Owner: "a", Token: 7}); !errors.Is(r.Err, ErrWrongToken) {
		t.Fatalf("release with a wrong token: got %v, want ErrWrongToken", r.Err)
	}
	rn := d.ok(5*time.Second, Renew{Name: "db", Owner: "a", Token: 1, TTL: 10 * time.Second})
	if !rn.Expiry.Equal(t0.Add(15 * time.Second)) {
		t.Fatalf("renewed to %v", rn.Expiry)
	}
	d.ok(6*time.Second, Release{Name: "db", Owner: "a", Token: 1})
	if s := d.show("db"); s.Holder != "" {
		t.Fatalf("released lock still held: %+v", s)
	}
	if r := d.do(6*time.Second, Release{Name: "db", Owner: "a", Token: 1}); !errors.Is(r.Err, ErrNotHolder) {
		t.Fatalf("double release: got %v, want ErrNotHolder", r.Err)
	}
	g2 := d.ok(7*time.Second, Acquire{Name: "db", Owner: "b", TTL: time.Second})
	if g2.Token <= g.Token {
		t.Fatalf("token %d after %d: fencing tokens must increase", g2.Token, g.Token)
	}
}

func TestExpiryComesFromTheLog(t *testing.T) {
	d := newDriver(t)
	d.ok(0, Acquire{Name: "x", Owner: "a", TTL: 10 * time.Second})
	if r := d.do(10*time.Second-1, Acquire{Name: "x", Owner: "b", TTL: time.Second}); !errors.Is(r.Err, ErrLockHeld) {
		t.Fatalf("one nanosecond before expiry: got %v, want ErrLockHeld", r.Err)
	}
	g := d.ok(10*time.Second, Acquire{Name: "x", Owner: "b", TTL: time.Second})
	if g.Holder != "b" {
		t.Fatalf("after expiry: %+v", g)
	}
	// A leader whose clock is behind cannot bring a lease back to life or
	// extend it: time is the largest seen.
	if r := d.do(0, Renew{Name: "x", Owner: "b", Token: g.Token, TTL: time.Second}); r.Err != nil || !r.Value.(Lease).Expiry.Equal(t0.Add(11*time.Second)) {
		t.Fatalf("renew under a slow clock: %+v", r)
	}
	// The old holder's token is refused.
	if r := d.do(10*time.Second, Renew{Name: "x", Owner: "a", Token: 1, TTL: time.Second}); !errors.Is(r.Err, ErrNotHolder) {
		t.Fatalf("expired holder renewing: got %v", r.Err)
	}
}

func TestExpiryAppliesWithoutCommandsOnTheLock(t *testing.T) {
	d := newDriver(t)
	d.ok(0, Acquire{Name: "x", Owner: "a", TTL: time.Second})
	d.ok(0, Acquire{Name: "other", Owner: "z", TTL: time.Hour})
	// Any later command carries the time that expires x.
	d.ok(2*time.Second, Renew{Name: "other", Owner: "z", Token: 2, TTL: time.Hour})
	if s := d.show("x"); s.Holder != "" {
		t.Fatalf("x still held after its lease ended: %+v", s)
	}
}

func TestWaitersAreServedInOrderUntilTheirDeadline(t *testing.T) {
	d := newDriver(t)
	d.ok(0, Acquire{Name: "q", Owner: "a", TTL: time.Minute})
	b := d.ok(time.Second, Acquire{Name: "q", Owner: "b", TTL: 5 * time.Second, Wait: 2 * time.Second})
	c := d.ok(time.Second, Acquire{Name: "q", Owner: "c", TTL: 5 * time.Second, Wait: time.Hour})
	e := d.ok(time.Second, Acquire{Name: "q", Owner: "e", TTL: 5 * time.Second, Wait: time.Hour})
	if !b.Queued || b.Position != 1 || c.Position != 2 || e.Position != 3 {
		t.Fatalf("queue positions %+v %+v %+v", b, c, e)
	}
	// Repeating a queued Acquire keeps the place instead of queueing twice.
	if again := d.ok(time.Second, Acquire{Name: "q", Owner: "c", TTL: 5 * time.Second, Wait: time.Hour}); again.Position != 2 {
		t.Fatalf("repeated acquire moved to %d", again.Position)
	}
	// a releases after b's deadline passed: b is dropped, c gets the lock
	// with the release's index as token.
	rel := d.cmd(10*time.Second, Release{Name: "q", Owner: "a", Token: 1}.Encode())
	if r := d.l.Apply(rel); r.Err != nil {
		t.Fatal(r.Err)
	}
	s := d.show("q")
	if s.Holder != "c" || s.Token != rel.Index || !s.Expiry.Equal(t0.Add(15*time.Second)) || s.Waiters != 1 {
		t.Fatalf("after release: %+v (release index %d)", s, rel.Index)
	}
	// c's lease expires, observed at a later command: e takes over.
	later := d.cmd(20*time.Second, Acquire{Name: "unrelated", Owner: "z", TTL: time.Second}.Encode())
	d.l.Apply(later)
	if s := d.show("q"); s.Holder != "e" || s.Token != later.Index {
		t.Fatalf("after c's expiry: %+v", s)
	}
	// Repeating its Acquire tells e it holds the lock.
	if g := d.ok(21*time.Second, Acquire{Name: "q", Owner: "e", TTL: 5 * time.Second, Wait: time.Hour}); g.Queued || g.Holder != "e" {
		t.Fatalf("e asking again: %+v", g)
	}
}

func TestQueueIsBounded(t *testing.T) {
	d := newDriver(t)
	d.ok(0, Acquire{Name: "q", Owner: "holder", TTL: time.Hour})
	for i := 0; i < MaxWaiters; i++ {
		d.ok(0, Acquire{Name: "q", Owner: fmt.Sprint("w", i), TTL: time.Second, Wait: time.Minute})
	}
	if r := d.do(0, Acquire{Name: "q", Owner: "late", TTL: time.Second, Wait: time.Minute}); !errors.Is(r.Err, ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", r.Err)
	}
	// Waiters past their deadline make room.
	if r := d.do(2*time.Minute, Acquire{Name: "q", Owner: "late", TTL: time.Second, Wait: time.Minute}); r.Err != nil {
		t.Fatalf("after deadlines passed: %v", r.Err)
	}
}

func TestInvalidCommands(t *testing.T) {
	cases := []struct {
		name string
		cmd  Command
		want error
	}{
		{"empty name", Acquire{Name: "", Owner: "a", TTL: time.Second}, ErrInvalidName},
		{"empty owner", Acquire{Name: "n", Owner: "", TTL: time.Second}, ErrInvalidName},
		{"control character", Acquire{Name: "a\x00", Owner: "a", TTL: time.Second}, ErrInvalidName},
		{"zero ttl", Acquire{Name: "n", Owner: "a"}, ErrInvalidDuration},
		{"negative wait", Acquire{Name: "n", Owner: "a", TTL: time.Second, Wait: -time.Second}, ErrInvalidDuration},
		{"ttl too long", Acquire{Name: "n", Owner: "a", TTL: MaxTTL + time.Hour}, ErrBadCommand},
		{"renew without ttl", Renew{Name: "n", Owner: "a", Token: 1}, ErrInvalidDuration},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t)
			if r := d.do(0, tc.cmd); !errors.Is(r.Err, tc.want) {
				t.Fatalf("got %v, want %v", r.Err, tc.want)
			}
		})
	}
	for _, garbage := range [][]byte{{}, {9}, {1, 200}, append(Release{Name: "n", Owner: "o", Token: 1}.Encode(), 1)} {
		d := newDriver(t)
		if r := d.l.Apply(d.cmd(0, garbage)); !errors.Is(r.Err, ErrBadCommand) {
			t.Fatalf("%v: got %v, want ErrBadCommand", garbage, r.Err)
		}
	}
}

// TestRetriedReleaseInASessionIsAppliedOnce: a release retried after the
// lock passed to a waiter must not free the waiter's lease.
func TestRetriedReleaseInASessionIsAppliedOnce(t *testing.T) {
	d := newDriver(t)
	d.ok(0, Acquire{Name: "q", Owner: "a", TTL: time.Minute})
	d.ok(0, Acquire{Name: "q", Owner: "b", TTL: time.Minute, Wait: time.Minute})
	rel := session.Envelope{Client: "a-client", Seq: 1, Ack: 1, Payload: Release{Name: "q", Owner: "a", Token: 1}.Encode()}.Encode()
	first := d.l.Apply(d.cmd(time.Second, rel))
	retry := d.l.Apply(d.cmd(2*time.Second, rel))
	if first.Err != nil || retry.Err != nil {
		t.Fatalf("release %v, retry %v", first.Err, retry.Err)
	}
	if retry.Value.(Lease) != first.Value.(Lease) {
		t.Fatalf("retry answered %+v, first %+v", retry.Value, first.Value)
	}
	if s := d.show("q"); s.Holder != "b" {
		t.Fatalf("the retry disturbed b's lease: %+v", s)
	}
}

func TestSnapshotRestoreKeepsLeasesAndQueues(t *testing.T) {
	d := newDriver(t)
	d.ok(0, Acquire{Name: "q", Owner: "a", TTL: time.Minute})
	d.ok(time.Second, Acquire{Name: "q", Owner: "b", TTL: time.Minute, Wait: time.Hour})
	d.ok(time.Second, Acquire{Name: "r", Owner: "c", TTL: time.Second})
	snap := snapshotBytes(t, d.l)
	r := New(Options{})
	if err := r.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, r), snap) {
		t.Fatal("restore then snapshot changed the bytes")
	}
	// Both go on identically: r's lease expires, a's lease expires and b
	// takes over, at the same index with the same token.
	next := d.cmd(2*time.Minute, Acquire{Name: "s", Owner: "z", TTL: time.Second}.Encode())
	d.l.Apply(next)
	r.Apply(next)
	for _, name := range []string{"q", "r", "s"} {
		a, _ := d.l.Show(name)
		b, _ := r.Show(name)
		if a != b {
			t.Fatalf("%s: original %+v, restored %+v", name, a, b)
		}
	}
	if s, _ := r.Show("q"); s.Holder != "b" || s.Token != next.Index {
		t.Fatalf("restored replica: %+v", s)
	}
	if err := New(Options{}).Restore(bytes.NewReader(snap[:len(snap)-3])); err == nil {
		t.Fatal("a truncated snapshot was accepted")
	}
}

func TestRegisteredAsLock(t *testing.T) {
	f, err := fsm.Lookup("lock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f(map[string]any{"session_ttl": "1m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f(map[string]any{"ttl": "1m"}); err == nil {
		t.Fatal("an unknown option was accepted")
	}
}
