package lock

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

// randomLog builds commands over two locks and three owners, with leader
// times that mostly advance and sometimes step back (a leader with a slow
// clock). Renew and Release pick the current token or a wrong one.
func randomLog(rng *rand.Rand, d *driver, n int) []fsm.Command {
	names := []string{"x", "y"}
	owners := []string{"a", "b", "c"}
	var clock time.Duration
	var out []fsm.Command
	tokens := map[string]uint64{}
	for i := 0; i < n; i++ {
		clock += time.Duration(rng.IntN(1500)) * time.Millisecond
		at := clock
		if rng.IntN(10) == 0 {
			at -= time.Duration(rng.IntN(3000)) * time.Millisecond
		}
		name, owner := names[rng.IntN(2)], owners[rng.IntN(3)]
		token := tokens[name]
		if rng.IntN(4) == 0 {
			token = uint64(rng.IntN(i + 2))
		}
		var c Command
		switch rng.IntN(4) {
		case 0, 1:
			c = Acquire{Name: name, Owner: owner, TTL: time.Duration(1+rng.IntN(4000)) * time.Millisecond, Wait: time.Duration(rng.IntN(4000)) * time.Millisecond}
		case 2:
			c = Renew{Name: name, Owner: owner, Token: token, TTL: time.Duration(1+rng.IntN(3000)) * time.Millisecond}
		default:
			c = Release{Name: name, Owner: owner, Token: token}
		}
		cmd := d.cmd(at, c.Encode())
		out = append(out, cmd)
		// Guess tokens as a client would, from what it last saw.
		if r := d.l.Apply(cmd); r.Err == nil && r.Value.(Lease).Holder != "" {
			tokens[name] = r.Value.(Lease).Token
		}
	}
	return out
}

// TestAtMostOneHolderAndIncreasingTokens checks, after every command of
// random histories: a lock changes hands only when its lease was released
// or has expired by log time, every new grant's token is larger than the
// previous one, and no lease shown is already over. A second replica fed
// the same log in batches, with a snapshot/restore in the middle, ends
// byte-identical: expiry is the same on every replica.
func TestAtMostOneHolderAndIncreasingTokens(t *testing.T) {
	for seed := uint64(0); seed < 25; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		gen := newDriver(t)
		log := randomLog(rng, gen, 800)

		type seen struct {
			holder   string
			token    uint64
			expiry   time.Time
			released bool
		}
		a := New(Options{})
		last := map[string]seen{}
		grants := 0
		for _, cmd := range log {
			r := a.Apply(cmd)
			var rel Release
			if c, err := DecodeCommand(cmd.Data); err == nil {
				rel, _ = c.(Release)
			}
			for _, name := range []string{"x", "y"} {
				prev := last[name]
				if r.Err == nil && rel.Name == name && rel.Token == prev.token {
					prev.released = true
				}
				now, _ := a.Show(name)
				if now.Holder != "" && !now.Expiry.After(a.Now()) {
					t.Fatalf("seed %d index %d: %s shown with a lease over at %v: %+v", seed, cmd.Index, name, a.Now(), now)
				}
				if now.Token != prev.token && now.Holder != "" {
					grants++
					if now.Token <= prev.token {
						t.Fatalf("seed %d index %d: token %d after %d", seed, cmd.Index, now.Token, prev.token)
					}
					if prev.holder != "" && !prev.released && a.Now().Before(prev.expiry) {
						t.Fatalf("seed %d index %d: %s passed from %q to %q while %q's lease ran until %v (now %v)",
							seed, cmd.Index, name, prev.holder, now.Holder, prev.holder, prev.expiry, a.Now())
					}
				}
				if now.Token != prev.token || now.Holder == "" {
					prev = seen{}
				}
				if now.Holder != "" {
					prev.holder, prev.token, prev.expiry = now.Holder, now.Token, now.Expiry
				}
				last[name] = prev
			}
		}
		if grants < 20 {
			t.Fatalf("seed %d: only %d grants: the history exercised little", seed, grants)
		}

		b := New(Options{})
		half := len(log) / 2
		for rest := log[:half]; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(30))
			b.ApplyBatch(rest[:n])
			rest = rest[n:]
		}
		restored := New(Options{})
		if err := restored.Restore(bytes.NewReader(snapshotBytes(t, b))); err != nil {
			t.Fatal(err)
		}
		restored.ApplyBatch(log[half:])
		if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, restored)) {
			t.Fatalf("seed %d: replicas diverged", seed)
		}
	}
}

// TestExpiryIdenticalAcrossReplicas: two replicas applying the same log
// while the wall clock moves report the same lease after every command.
func TestExpiryIdenticalAcrossReplicas(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	log := randomLog(rng, newDriver(t), 400)
	a, b := New(Options{}), New(Options{})
	expired := 0
	for i, cmd := range log {
		ra, rb := a.Apply(cmd), b.Apply(cmd)
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // nothing may depend on this
		}
		if (ra.Err == nil) != (rb.Err == nil) || (ra.Err != nil && ra.Err.Error() != rb.Err.Error()) {
			t.Fatalf("index %d: verdicts differ: %v vs %v", cmd.Index, ra.Err, rb.Err)
		}
		for _, name := range []string{"x", "y"} {
			la, _ := a.Show(name)
			lb, _ := b.Show(name)
			if la != lb {
				t.Fatalf("index %d: %s is %+v on one replica, %+v on the other", cmd.Index, name, la, lb)
			}
		}
		if errors.Is(ra.Err, ErrNotHolder) {
			expired++
		}
	}
	if expired == 0 {
		t.Fatal("no command ever met a lost lease: the log exercised nothing")
	}
}
