package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// fill opens n accounts directly in the state (no log): a fixture for
// snapshot sizes.
func fill(l *Ledger, n int) {
	for i := 0; i < n; i++ {
		id := "acct-" + strconv.Itoa(i)
		l.st.accounts.set(id, int64(i%1000))
		l.st.deposited += int64(i % 1000)
	}
}

func TestSnapshotRestoreOfManyAccounts(t *testing.T) {
	n := 50000
	if s := os.Getenv("MANDATE_LEDGER_ACCOUNTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	l := New(Options{})
	fill(l, n)
	snap := snapshotBytes(t, l)
	g := New(Options{})
	if err := g.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if a, b := l.Audit(), g.Audit(); a != b || b.Accounts != n || !b.Reconciles() {
		t.Fatalf("audit before %+v, after %+v", a, b)
	}
	if !bytes.Equal(snapshotBytes(t, g), snap) {
		t.Fatal("restored ledger snapshots differently")
	}
}

// TestSnapshotIsPointInTime: Persist writes the state of the Snapshot call
// even while Applies change the ledger concurrently.
func TestSnapshotIsPointInTime(t *testing.T) {
	l := New(Options{})
	d := newDriver(t, l)
	for i := 0; i < 2000; i++ {
		d.ok(fmt.Sprint("open-", i), Deposit{Account: fmt.Sprint("acct-", i), Amount: 10})
	}
	want := snapshotBytes(t, l)
	s, err := l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	done := make(chan error)
	go func() {
		// Apply goes on while Persist runs (t.Fatal is not allowed here).
		var err error
		for i := 0; i < 2000 && err == nil; i++ {
			err = d.do(fmt.Sprint("move-", i), Transfer{From: fmt.Sprint("acct-", i), To: fmt.Sprint("acct-", (i+1)%2000), Amount: 5}).Err
			if err == nil {
				err = d.do(fmt.Sprint("new-", i), Deposit{Account: fmt.Sprint("new-", i), Amount: 1}).Err
			}
		}
		done <- err
	}()
	var got bytes.Buffer
	if err := s.Persist(&got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("concurrent apply: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("Persist saw changes made after Snapshot")
	}
}

func TestRestoreRejectsInconsistentSnapshots(t *testing.T) {
	l := New(Options{})
	d := newDriver(t, l)
	d.ok("a", Deposit{Account: "alice", Amount: 10})
	d.ok("b", Deposit{Account: "bob", Amount: 20})
	good := snapshotBytes(t, l)
	// Every truncation fails cleanly.
	for cut := 0; cut < len(good); cut++ {
		err := New(Options{}).Restore(bytes.NewReader(good[:cut]))
		if err == nil {
			t.Fatalf("truncation at %d of %d accepted", cut, len(good))
		}
	}
	// Random bit flips never panic, and whatever is accepted reconciles.
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 3000; i++ {
		bad := append([]byte(nil), good...)
		bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
		g := New(Options{})
		if err := g.Restore(bytes.NewReader(bad)); err == nil && !g.Audit().Reconciles() {
			t.Fatalf("accepted a snapshot that does not reconcile: %+v", g.Audit())
		}
	}
	// A state-only snapshot whose balances disagree with the totals.
	st := newState()
	st.accounts.set("alice", 5)
	st.deposited = 6
	s, _ := st.Snapshot()
	var buf bytes.Buffer
	if err := s.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	if err := newState().Restore(&buf); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("got %v, want ErrBadSnapshot", err)
	}
}

// BenchmarkSnapshotMillion measures Snapshot+Persist and Restore of a
// ledger of one million accounts.
func BenchmarkSnapshotMillion(b *testing.B) {
	const n = 1_000_000
	l := New(Options{})
	fill(l, n)
	var buf bytes.Buffer
	b.Run("snapshot+persist", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf.Reset()
			start := time.Now()
			s, err := l.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds()), "µs-snapshot-call")
			if err := s.Persist(&buf); err != nil {
				b.Fatal(err)
			}
			s.Release()
		}
		b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
	})
	data := snapshotBytes(b, l)
	b.Run("restore", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			g := New(Options{})
			if err := g.Restore(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkApply measures transfers through the session layer.
func BenchmarkApply(b *testing.B) {
	l := New(Options{})
	d := newDriver(b, l)
	for i := 0; i < 1000; i++ {
		d.ok(fmt.Sprint("open-", i), Deposit{Account: fmt.Sprint("acct-", i), Amount: 1 << 40})
	}
	cmds := make([][]byte, b.N)
	for i := range cmds {
		cmds[i] = Request(fmt.Sprint("t-", i), Transfer{From: fmt.Sprint("acct-", i%1000), To: fmt.Sprint("acct-", (i+7)%1000), Amount: 1})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := l.Apply(d.next(cmds[i])); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
