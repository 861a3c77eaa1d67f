package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mandate-raft/mandate/fsm"
)

// model is the obvious ledger: a map, applied once per request id.
type model struct {
	bal                  map[string]int64
	deposited, withdrawn int64
}

func (m *model) apply(c Command) (Receipt, error) {
	switch c := c.(type) {
	case Deposit:
		if c.Amount <= 0 {
			return Receipt{}, ErrInvalidAmount
		}
		m.bal[c.Account] += c.Amount
		m.deposited += c.Amount
		return Receipt{Balance: m.bal[c.Account]}, nil
	case Withdraw:
		b, ok := m.bal[c.Account]
		switch {
		case c.Amount <= 0:
			return Receipt{}, ErrInvalidAmount
		case !ok:
			return Receipt{}, ErrUnknownAccount
		case b < c.Amount:
			return Receipt{}, ErrInsufficientFunds
		}
		m.bal[c.Account] -= c.Amount
		m.withdrawn += c.Amount
		return Receipt{Balance: m.bal[c.Account]}, nil
	case Transfer:
		from, okF := m.bal[c.From]
		_, okT := m.bal[c.To]
		switch {
		case c.Amount <= 0:
			return Receipt{}, ErrInvalidAmount
		case c.From == c.To:
			return Receipt{}, ErrSameAccount
		case !okF || !okT:
			return Receipt{}, ErrUnknownAccount
		case from < c.Amount:
			return Receipt{}, ErrInsufficientFunds
		}
		m.bal[c.From] -= c.Amount
		m.bal[c.To] += c.Amount
		return Receipt{Balance: m.bal[c.From], ToBalance: m.bal[c.To]}, nil
	}
	panic("unknown command")
}

type request struct {
	id  string
	cmd Command
}

// randomWorkload returns requests over a few accounts, a third of them
// retries of an earlier request (as after a leader crash or a timeout).
func randomWorkload(rng *rand.Rand, n int) []request {
	accounts := []string{"a", "b", "c", "d", "e", "f"}
	pick := func() string { return accounts[rng.IntN(len(accounts))] }
	var out []request
	for i := 0; i < n; i++ {
		if len(out) > 0 && rng.IntN(3) == 0 {
			out = append(out, out[len(out)-1-rng.IntN(min(len(out), 20))])
			continue
		}
		amount := int64(rng.IntN(120)) - 5 // sometimes zero or negative
		var c Command
		switch rng.IntN(6) {
		case 0, 1:
			c = Deposit{Account: pick(), Amount: amount}
		case 2:
			c = Withdraw{Account: pick(), Amount: amount}
		default:
			c = Transfer{From: pick(), To: pick(), Amount: amount}
		}
		out = append(out, request{id: fmt.Sprintf("req-%d", i), cmd: c})
	}
	return out
}

// TestRandomTransfersWithRetries is the ledger's exactly-once property:
// whatever the retries and the snapshot/restores on the way, every request
// takes effect once, with the verdict a once-applied model gives, no
// balance goes negative, and the audit reconciles.
func TestRandomTransfersWithRetries(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		m := &model{bal: map[string]int64{}}
		verdict := map[string]string{} // request id -> the model's verdict
		d := newDriver(t, New(Options{}))
		succeeded := 0
		for i, req := range randomWorkload(rng, 600) {
			want, seen := verdict[req.id]
			if !seen {
				rc, err := m.apply(req.cmd)
				want = describe(rc, err)
				verdict[req.id] = want
			}
			r := d.do(req.id, req.cmd)
			var rc Receipt
			if r.Err == nil {
				rc = r.Value.(Receipt)
				succeeded++
			}
			if got := describe(rc, r.Err); got != want {
				t.Fatalf("seed %d step %d %s %+v: got %s, want %s", seed, i, req.id, req.cmd, got, want)
			}
			if i%150 == 149 { // a follower installs a snapshot and takes over
				g := New(Options{})
				if err := g.Restore(bytes.NewReader(snapshotBytes(t, d.l))); err != nil {
					t.Fatal(err)
				}
				d.l = g
			}
		}
		if succeeded < 100 {
			t.Fatalf("seed %d: only %d requests succeeded: the workload tests nothing", seed, succeeded)
		}
		a := d.l.Audit()
		if !a.Reconciles() || a.Deposited != m.deposited || a.Withdrawn != m.withdrawn {
			t.Fatalf("seed %d: audit %+v, model deposited %d withdrawn %d", seed, a, m.deposited, m.withdrawn)
		}
		for _, acc := range d.l.Accounts("", MaxPageSize) {
			if acc.Balance < 0 || acc.Balance != m.bal[acc.ID] {
				t.Fatalf("seed %d: %s has %d, model %d", seed, acc.ID, acc.Balance, m.bal[acc.ID])
			}
		}
	}
}

func describe(rc Receipt, err error) string {
	if err != nil {
		for _, v := range verdicts {
			if errors.Is(err, v) {
				return v.Error()
			}
		}
		return "unexpected: " + err.Error()
	}
	return fmt.Sprintf("ok %d %d", rc.Balance, rc.ToBalance)
}

// TestSameLogSameSnapshotBytes: replicas applying the same log, one by one
// or in batches of any size, hold byte-identical snapshots.
func TestSameLogSameSnapshotBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a, b := New(Options{}), New(Options{})
	da := newDriver(t, a)
	var log []fsm.Command
	for _, req := range randomWorkload(rng, 2000) {
		log = append(log, da.next(Request(req.id, req.cmd)))
	}
	for _, c := range log {
		a.Apply(c)
	}
	for rest := log; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(64))
		b.ApplyBatch(rest[:n])
		rest = rest[n:]
	}
	sa, sb := snapshotBytes(t, a), snapshotBytes(t, b)
	if !bytes.Equal(sa, sb) {
		t.Fatal("replicas fed the same log have different snapshots")
	}
	// A replica restored from the snapshot writes it back unchanged.
	c := New(Options{})
	if err := c.Restore(bytes.NewReader(sa)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, c), sa) {
		t.Fatal("restore then snapshot changed the bytes")
	}
}
