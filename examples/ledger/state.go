package ledger

import (
	"fmt"
	"math"

	"github.com/mandate-raft/mandate/fsm"
)

// state is the ledger proper, without locking or sessions: the inner FSM
// that the session layer wraps.
//
// Invariant: every balance >= 0, and the balances sum to
// deposited - withdrawn (so no sum can overflow: all are <= deposited).
type state struct {
	accounts  *btree
	deposited int64 // all deposits ever
	withdrawn int64 // all withdrawals ever
	resultCodec
}

var _ fsm.BatchFSM = (*state)(nil)

func newState() *state { return &state{accounts: newBtree()} }

// Apply applies one ledger command.
func (s *state) Apply(cmd fsm.Command) fsm.Result {
	c, err := DecodeCommand(cmd.Data)
	if err != nil {
		return fsm.Result{Err: err}
	}
	var rc Receipt
	switch c := c.(type) {
	case Deposit:
		rc, err = s.deposit(c)
	case Withdraw:
		rc, err = s.withdraw(c)
	case Transfer:
		rc, err = s.transfer(c)
	}
	if err != nil {
		return fsm.Result{Err: err}
	}
	return fsm.Result{Value: rc}
}

// ApplyBatch applies cmds in order.
func (s *state) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	out := make([]fsm.Result, len(cmds))
	for i, c := range cmds {
		out[i] = s.Apply(c)
	}
	return out
}

func validAmount(a int64) error {
	if a <= 0 {
		return fmt.Errorf("%w: %d (must be positive)", ErrInvalidAmount, a)
	}
	return nil
}

func (s *state) deposit(d Deposit) (Receipt, error) {
	if err := ValidAccount(d.Account); err != nil {
		return Receipt{}, err
	}
	if err := validAmount(d.Amount); err != nil {
		return Receipt{}, err
	}
	// Balances never exceed the deposited total, so checking the total
	// covers the account too.
	if s.deposited > math.MaxInt64-d.Amount {
		return Receipt{}, fmt.Errorf("%w: depositing %d into %q", ErrOverflow, d.Amount, d.Account)
	}
	bal, _ := s.accounts.get(d.Account)
	bal += d.Amount
	s.accounts.set(d.Account, bal)
	s.deposited += d.Amount
	return Receipt{Balance: bal}, nil
}

func (s *state) withdraw(w Withdraw) (Receipt, error) {
	if err := ValidAccount(w.Account); err != nil {
		return Receipt{}, err
	}
	if err := validAmount(w.Amount); err != nil {
		return Receipt{}, err
	}
	bal, ok := s.accounts.get(w.Account)
	if !ok {
		return Receipt{}, fmt.Errorf("%w: %q", ErrUnknownAccount, w.Account)
	}
	if bal < w.Amount {
		return Receipt{}, fmt.Errorf("%w: %q holds %d, withdrawing %d", ErrInsufficientFunds, w.Account, bal, w.Amount)
	}
	bal -= w.Amount
	s.accounts.set(w.Account, bal)
	s.withdrawn += w.Amount
	return Receipt{Balance: bal}, nil
}

// transfer checks everything before it changes anything, so it is atomic.
func (s *state) transfer(t Transfer) (Receipt, error) {
	if err := ValidAccount(t.From); err != nil {
		return Receipt{}, err
	}
	if err := ValidAccount(t.To); err != nil {
		return Receipt{}, err
	}
	if err := validAmount(t.Amount); err != nil {
		return Receipt{}, err
	}
	if t.From == t.To {
		return Receipt{}, fmt.Errorf("%w: %q", ErrSameAccount, t.From)
	}
	from, ok := s.accounts.get(t.From)
	if !ok {
		return Receipt{}, fmt.Errorf("%w: %q", ErrUnknownAccount, t.From)
	}
	to, ok := s.accounts.get(t.To)
	if !ok {
		return Receipt{}, fmt.Errorf("%w: %q", ErrUnknownAccount, t.To)
	}
	if from < t.Amount {
		return Receipt{}, fmt.Errorf("%w: %q holds %d, transferring %d", ErrInsufficientFunds, t.From, from, t.Amount)
	}
	if to > math.MaxInt64-t.Amount {
		// Impossible while the invariant holds; checked so that a broken
		// invariant shows as an error, not as a wrapped balance.
		return Receipt{}, fmt.Errorf("%w: crediting %d to %q", ErrOverflow, t.Amount, t.To)
	}
	from -= t.Amount
	to += t.Amount
	s.accounts.set(t.From, from)
	s.accounts.set(t.To, to)
	return Receipt{Balance: from, ToBalance: to}, nil
}
