package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

func TestDepositWithdrawTransfer(t *testing.T) {
	d := newDriver(t, New(Options{}))
	if rc := d.ok("r1", Deposit{Account: "alice", Amount: 500}); rc.Balance != 500 {
		t.Fatalf("deposit receipt %+v", rc)
	}
	d.ok("r2", Deposit{Account: "bob", Amount: 100})
	if rc := d.ok("r3", Withdraw{Account: "alice", Amount: 200}); rc.Balance != 300 {
		t.Fatalf("withdraw receipt %+v", rc)
	}
	if rc := d.ok("r4", Transfer{From: "alice", To: "bob", Amount: 300}); rc != (Receipt{Balance: 0, ToBalance: 400}) {
		t.Fatalf("transfer receipt %+v", rc)
	}
	if balance(t, d.l, "alice") != 0 || balance(t, d.l, "bob") != 400 {
		t.Fatal("balances wrong after transfer")
	}
	a := d.l.Audit()
	if a != (Audit{Accounts: 2, Total: 400, Deposited: 600, Withdrawn: 200}) || !a.Reconciles() {
		t.Fatalf("audit %+v", a)
	}
}

func TestVerdicts(t *testing.T) {
	long := strings.Repeat("x", MaxAccountLen+1)
	cases := []struct {
		name string
		cmd  Command
		want error
	}{
		{"withdraw more than the balance", Withdraw{Account: "alice", Amount: 101}, ErrInsufficientFunds},
		{"transfer more than the balance", Transfer{From: "alice", To: "bob", Amount: 101}, ErrInsufficientFunds},
		{"withdraw from a new account", Withdraw{Account: "carol", Amount: 1}, ErrUnknownAccount},
		{"transfer from a new account", Transfer{From: "carol", To: "alice", Amount: 1}, ErrUnknownAccount},
		{"transfer to a new account", Transfer{From: "alice", To: "carol", Amount: 1}, ErrUnknownAccount},
		{"zero deposit", Deposit{Account: "alice", Amount: 0}, ErrInvalidAmount},
		{"negative deposit", Deposit{Account: "alice", Amount: -5}, ErrInvalidAmount},
		{"negative withdrawal", Withdraw{Account: "alice", Amount: -5}, ErrInvalidAmount},
		{"negative transfer", Transfer{From: "alice", To: "bob", Amount: math.MinInt64}, ErrInvalidAmount},
		{"overflowing deposit", Deposit{Account: "bob", Amount: math.MaxInt64}, ErrOverflow},
		{"empty account", Deposit{Account: "", Amount: 1}, ErrInvalidAccount},
		{"long account", Deposit{Account: long, Amount: 1}, ErrInvalidAccount},
		{"control character", Deposit{Account: "a\nb", Amount: 1}, ErrInvalidAccount},
		{"not UTF-8", Deposit{Account: "\xff", Amount: 1}, ErrInvalidAccount},
		{"transfer to itself", Transfer{From: "alice", To: "alice", Amount: 1}, ErrSameAccount},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, New(Options{}))
			d.ok("setup-a", Deposit{Account: "alice", Amount: 100})
			d.ok("setup-b", Deposit{Account: "bob", Amount: 1})
			before := snapshotAccounts(d.l)
			r := d.do("req", tc.cmd)
			if !errors.Is(r.Err, tc.want) {
				t.Fatalf("got %v, want %v", r.Err, tc.want)
			}
			if after := snapshotAccounts(d.l); after != before {
				t.Fatalf("a refused command changed the state: %s -> %s", before, after)
			}
			// The verdict survives a retry (the session's memory) ...
			if r := d.do("req", tc.cmd); !errors.Is(r.Err, tc.want) || r.Err.Error() != d.do("req", tc.cmd).Err.Error() {
				t.Fatalf("retry got %v, want %v", r.Err, tc.want)
			}
			// ... and a snapshot and restore.
			g := New(Options{})
			if err := g.Restore(bytes.NewReader(snapshotBytes(t, d.l))); err != nil {
				t.Fatal(err)
			}
			d.l = g
			if r := d.do("req", tc.cmd); !errors.Is(r.Err, tc.want) {
				t.Fatalf("retry after restore got %v, want %v", r.Err, tc.want)
			}
		})
	}
}

// snapshotAccounts describes the visible state: every account and the audit.
func snapshotAccounts(l *Ledger) string {
	return fmt.Sprint(l.Accounts("", MaxPageSize), l.Audit())
}

func TestRetriedRequestMovesMoneyOnce(t *testing.T) {
	d := newDriver(t, New(Options{}))
	d.ok("open", Deposit{Account: "alice", Amount: 100})
	d.ok("open-b", Deposit{Account: "bob", Amount: 1})
	first := d.ok("pay-1", Transfer{From: "alice", To: "bob", Amount: 60})
	// The leader crashed before answering; the client retries twice.
	for i := 0; i < 2; i++ {
		if again := d.ok("pay-1", Transfer{From: "alice", To: "bob", Amount: 60}); again != first {
			t.Fatalf("retry receipt %+v, want %+v", again, first)
		}
	}
	if balance(t, d.l, "alice") != 40 {
		t.Fatalf("alice has %d, want 40: the transfer ran more than once", balance(t, d.l, "alice"))
	}
}

func TestBareCommandsAreRefused(t *testing.T) {
	d := newDriver(t, New(Options{}))
	r := d.l.Apply(d.next(Deposit{Account: "alice", Amount: 5}.Encode()))
	if !errors.Is(r.Err, session.ErrNoEnvelope) {
		t.Fatalf("got %v, want session.ErrNoEnvelope", r.Err)
	}
	if d.l.Audit().Accounts != 0 {
		t.Fatal("a bare command was applied")
	}
}

func TestGarbageCommandsAreRefused(t *testing.T) {
	cases := map[string][]byte{
		"empty":             {},
		"unknown op":        {9, 1, 'a', 2},
		"truncated account": {1, 5, 'a'},
		"missing amount":    {1, 1, 'a'},
		"trailing bytes":    append(Deposit{Account: "a", Amount: 1}.Encode(), 0),
		"huge length":       {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			d := newDriver(t, New(Options{}))
			r := d.l.Apply(d.next(session.Envelope{Client: "c", Seq: 1, Payload: payload}.Encode()))
			if !errors.Is(r.Err, ErrBadCommand) && !errors.Is(r.Err, ErrInvalidAccount) {
				t.Fatalf("got %v, want ErrBadCommand", r.Err)
			}
		})
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []Command{
		Deposit{Account: "a", Amount: 1},
		Withdraw{Account: "ü", Amount: math.MaxInt64},
		Transfer{From: "x", To: "y", Amount: 42},
	} {
		got, err := DecodeCommand(c.Encode())
		if err != nil || got != c {
			t.Fatalf("round trip of %+v gave %+v, %v", c, got, err)
		}
	}
}

func TestAccountsPages(t *testing.T) {
	d := newDriver(t, New(Options{}))
	ids := []string{"m", "a", "z", "b", "y", "c"}
	for _, id := range ids {
		d.ok("open-"+id, Deposit{Account: id, Amount: 1})
	}
	var seen []string
	after := ""
	for {
		page := d.l.Accounts(after, 4)
		if len(page) == 0 {
			break
		}
		if len(page) > 4 {
			t.Fatalf("page of %d, limit 4", len(page))
		}
		for _, a := range page {
			seen = append(seen, a.ID)
		}
		after = page[len(page)-1].ID
	}
	if strings.Join(seen, "") != "abcmyz" {
		t.Fatalf("paged listing %v, want every account once in order", seen)
	}
	if got := d.l.Accounts("", 0); len(got) != len(ids) {
		t.Fatalf("default page size gave %d accounts", len(got))
	}
}

func TestReadsOfInvalidOrUnknownAccounts(t *testing.T) {
	l := New(Options{})
	if _, err := l.Balance(""); !errors.Is(err, ErrInvalidAccount) {
		t.Fatalf("got %v", err)
	}
	if _, err := l.Balance("nobody"); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("got %v", err)
	}
}

func TestRegisteredAsLedger(t *testing.T) {
	f, err := fsm.Lookup("ledger")
	if err != nil {
		t.Fatal(err)
	}
	m, err := f(map[string]any{"session_ttl": "1h", "max_sessions": 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(fsm.BatchFSM); !ok {
		t.Fatal("the ledger is not a BatchFSM")
	}
	for _, bad := range []map[string]any{
		{"session_ttl": "soon"},
		{"session_ttl": "-1h"},
		{"max_sessions": "many"},
		{"colour": "blue"},
	} {
		if _, err := f(bad); err == nil {
			t.Fatalf("options %v accepted", bad)
		}
	}
}
