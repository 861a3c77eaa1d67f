package session

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

func TestSnapshotRestoreKeepsSessions(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{TTL: time.Minute, Codec: NewMsgpackCodec(errBoom)})
	lg := newLog()
	f.Apply(lg.at(0, env("c1", 1, 1, "pay")))
	f.Apply(lg.at(time.Second, env("c1", 2, 1, "fail")))
	f.Apply(lg.at(2*time.Second, env("c2", 1, 1, "other")))
	f.Apply(lg.at(3*time.Second, []byte("raw")))
	snap := snapshotBytes(t, f)

	restoredInner := &recorder{}
	g := New(restoredInner, Options{TTL: time.Minute, Codec: NewMsgpackCodec(errBoom)})
	if err := g.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if g.Sessions() != 2 || !g.Now().Equal(f.Now()) {
		t.Fatalf("restored %d sessions at %v, want 2 at %v", g.Sessions(), g.Now(), f.Now())
	}
	// Retries after the restore are answered from memory, verdicts intact.
	r1 := g.Apply(lg.at(4*time.Second, env("c1", 1, 1, "pay")))
	r2 := g.Apply(lg.at(4*time.Second, env("c1", 2, 1, "fail")))
	if r1.Err != nil || number(r1.Value) != 1 {
		t.Fatalf("retry of seq 1: %+v", r1)
	}
	if !errors.Is(r2.Err, errBoom) {
		t.Fatalf("retry of seq 2 lost its sentinel: %v", r2.Err)
	}
	if restoredInner.count("pay") != 1 || restoredInner.count("fail") != 1 {
		t.Fatalf("retries were applied again: %v", restoredInner.applied)
	}
	// The restored replica goes on exactly like the original.
	f.Apply(lg.at(4*time.Second, env("c1", 1, 1, "pay")))
	f.Apply(lg.at(4*time.Second, env("c1", 2, 1, "fail")))
	if !bytes.Equal(snapshotBytes(t, f), snapshotBytes(t, g)) {
		t.Fatal("original and restored replica diverged")
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	f := New(&recorder{}, Options{})
	lg := newLog()
	f.Apply(lg.at(0, env("c1", 1, 1, "a")))
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	want := snapshotBytes(t, f)
	// Apply continues before Persist runs.
	f.Apply(lg.at(time.Second, env("c1", 2, 2, "b")))
	f.Apply(lg.at(time.Hour, env("c9", 1, 1, "c")))
	var got bytes.Buffer
	if err := s.Persist(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("Persist wrote state from after the Snapshot call")
	}
}

func TestRestoreRejectsCorruptSnapshots(t *testing.T) {
	f := New(&recorder{}, Options{})
	lg := newLog()
	for i := 1; i <= 5; i++ {
		f.Apply(lg.at(0, env(fmt.Sprint("c", i), 1, 1, "x")))
	}
	good := snapshotBytes(t, f)
	sessionPart := len(good) - len("x\nx\nx\nx\nx")
	for cut := 0; cut < sessionPart; cut++ {
		g := New(&recorder{}, Options{})
		if err := g.Restore(bytes.NewReader(good[:cut])); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("truncated at %d: got %v, want ErrBadSnapshot", cut, err)
		}
	}
	// Random corruption never panics.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		bad := append([]byte(nil), good...)
		bad[rng.IntN(sessionPart)] ^= byte(1 + rng.IntN(255))
		_ = New(&recorder{}, Options{}).Restore(bytes.NewReader(bad))
	}
}

// TestBatchEqualsSequential checks the BatchFSM promise: ApplyBatch gives
// the results and state that Apply one by one gives, including duplicates
// and acknowledgements inside one batch and expiry in the middle of it.
func TestBatchEqualsSequential(t *testing.T) {
	for seed := uint64(0); seed < 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		lg := newLog()
		var cmds []fsm.Command
		next := map[string]uint64{}
		var clock time.Duration
		for i := 0; i < 300; i++ {
			clock += time.Duration(rng.IntN(4000)) * time.Millisecond
			client := fmt.Sprint("c", rng.IntN(5))
			switch k := rng.IntN(10); {
			case k == 0:
				cmds = append(cmds, lg.at(clock, []byte("raw")))
			case k == 1:
				cmds = append(cmds, lg.at(clock, []byte{0xc1, 'M', 'S', 'E', 1, 0}))
			case k < 5 && next[client] > 0: // retry something recent
				seq := next[client] - uint64(rng.IntN(int(min(next[client], 3))))
				cmds = append(cmds, lg.at(clock, env(client, seq, max(1, seq-uint64(rng.IntN(3))), "retry")))
			default:
				next[client]++
				seq := next[client]
				payload := "op"
				if rng.IntN(5) == 0 {
					payload = "fail"
				}
				cmds = append(cmds, lg.at(clock, env(client, seq, max(1, seq-uint64(rng.IntN(4))), payload)))
			}
		}
		opts := Options{TTL: 5 * time.Second, MaxPending: 3, Codec: NewMsgpackCodec(errBoom)}
		seq := New(&batchRecorder{}, opts)
		bat := New(&batchRecorder{}, opts)
		var want, got []fsm.Result
		for _, c := range cmds {
			want = append(want, seq.Apply(c))
		}
		for rest := cmds; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(40))
			got = append(got, bat.ApplyBatch(rest[:n])...)
			rest = rest[n:]
		}
		for i := range want {
			if describe(want[i]) != describe(got[i]) {
				t.Fatalf("seed %d command %d: sequential %s, batch %s", seed, i, describe(want[i]), describe(got[i]))
			}
		}
		if !bytes.Equal(snapshotBytes(t, seq), snapshotBytes(t, bat)) {
			t.Fatalf("seed %d: states differ", seed)
		}
		if bat.inner.(*batchRecorder).batches == 0 {
			t.Fatal("the inner ApplyBatch was never used")
		}
	}
}

func describe(r fsm.Result) string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	return fmt.Sprint("value: ", number(r.Value))
}

// TestSnapshotSharesSessionsCopyOnWrite: a snapshot taken before a storm
// of changes (touches, acknowledgements, new sessions, evictions,
// expiries, registry compactions) persists exactly the state of its
// moment, while Persist runs concurrently with the changes (run under
// -race).
func TestSnapshotSharesSessionsCopyOnWrite(t *testing.T) {
	f := New(&recorder{}, Options{TTL: time.Minute, MaxSessions: 3000})
	lg := newLog()
	for i := 0; i < 2000; i++ {
		f.Apply(lg.at(time.Duration(i)*time.Millisecond, env(fmt.Sprint("c", i), 1, 1, "x")))
	}
	want := snapshotBytes(t, f)
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	storm := func(at time.Duration) {
		for i := 0; i < 2000; i++ { // touch and acknowledge every old session
			f.Apply(lg.at(at, env(fmt.Sprint("c", i), 2, 2, "y")))
		}
		for i := 2000; i < 6000; i++ { // evictions beyond MaxSessions
			f.Apply(lg.at(at, env(fmt.Sprint("c", i), 1, 1, "z")))
		}
		f.Apply(lg.at(at+time.Hour, []byte("expire everything")))
	}
	storm(2 * time.Second)
	var got bytes.Buffer
	if err := s.Persist(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("the snapshot changed after it was taken")
	}
	// Once more with Persist running during the storm (for -race).
	for i := 0; i < 2000; i++ {
		f.Apply(lg.at(3*time.Hour, env(fmt.Sprint("c", i), 1, 1, "x")))
	}
	want2 := snapshotBytes(t, f)
	s2, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Release()
	done := make(chan struct{})
	go func() {
		defer close(done)
		storm(3*time.Hour + time.Second)
	}()
	got.Reset()
	if err := s2.Persist(&got); err != nil {
		t.Fatal(err)
	}
	<-done
	if !bytes.Equal(got.Bytes(), want2) {
		t.Fatal("the second snapshot changed after it was taken")
	}
	if f.Sessions() != 0 {
		t.Fatalf("%d sessions survived an hour of idleness", f.Sessions())
	}
	// The live table, squeezed and rebuilt meanwhile, still restores to
	// the snapshot's state.
	g := New(&recorder{}, Options{TTL: time.Minute, MaxSessions: 3000})
	if err := g.Restore(bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if g.Sessions() != 2000 || !bytes.Equal(snapshotBytes(t, g), want) {
		t.Fatalf("restored %d sessions; bytes equal: %v", g.Sessions(), bytes.Equal(snapshotBytes(t, g), want))
	}
}

// TestRecencyOrderSurvivesRestore: eviction after a restore picks the same
// victim as on the original replica.
func TestRecencyOrderSurvivesRestore(t *testing.T) {
	opts := Options{MaxSessions: 3}
	f := New(&recorder{}, opts)
	lg := newLog()
	f.Apply(lg.at(0, env("a", 1, 1, "x")))
	f.Apply(lg.at(0, env("b", 1, 1, "x")))
	f.Apply(lg.at(0, env("c", 1, 1, "x")))
	f.Apply(lg.at(0, env("a", 2, 2, "x"))) // a is now the most recent; b the least
	g := New(&recorder{}, opts)
	if err := g.Restore(bytes.NewReader(snapshotBytes(t, f))); err != nil {
		t.Fatal(err)
	}
	next := lg.at(0, env("d", 1, 1, "x"))
	f.Apply(next)
	g.Apply(next)
	for _, r := range []*FSM{f, g} {
		if _, ok := r.clients.clients["b"]; ok || r.Sessions() != 3 {
			t.Fatal("b should have been evicted, on both replicas")
		}
	}
	if !bytes.Equal(snapshotBytes(t, f), snapshotBytes(t, g)) {
		t.Fatal("replicas diverged after an eviction")
	}
}
