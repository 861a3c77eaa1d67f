package ledger

import (
	"bytes"
	"testing"

	"github.com/mandate-raft/mandate/fsm/session"
)

// FuzzApply: any payload inside an envelope yields a result, never a
// panic, and never breaks the ledger's invariants.
func FuzzApply(f *testing.F) {
	f.Add(Deposit{Account: "a", Amount: 5}.Encode())
	f.Add(Transfer{From: "a", To: "b", Amount: 1}.Encode())
	f.Add([]byte{3, 1, 'a', 1, 'b', 0x7f})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d := newDriver(t, New(Options{}))
		d.ok("seed", Deposit{Account: "a", Amount: 100})
		d.ok("seed-b", Deposit{Account: "b", Amount: 100})
		d.l.Apply(d.next(session.Envelope{Client: "fuzz", Seq: 1, Payload: payload}.Encode()))
		if a := d.l.Audit(); !a.Reconciles() {
			t.Fatalf("audit %+v", a)
		}
		for _, acc := range d.l.Accounts("", MaxPageSize) {
			if acc.Balance < 0 {
				t.Fatalf("negative balance %+v", acc)
			}
		}
	})
}

// FuzzRestore: any bytes either restore into a reconciling ledger or fail.
func FuzzRestore(f *testing.F) {
	l := New(Options{})
	newDriver(f, l).ok("x", Deposit{Account: "a", Amount: 3})
	var buf bytes.Buffer
	s, _ := l.Snapshot()
	_ = s.Persist(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		g := New(Options{})
		if err := g.Restore(bytes.NewReader(data)); err == nil && !g.Audit().Reconciles() {
			t.Fatal("restored a ledger that does not reconcile")
		}
	})
}
