package ledger

import "errors"

// Verdicts of ledger commands, carried in fsm.Result.Err. Callers test them
// with errors.Is; they survive the session layer's result memory and
// snapshots. Their texts are stable codes: never change them.
var (
	// ErrInsufficientFunds: the withdrawal or transfer would leave a
	// balance negative. Nothing changed.
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrUnknownAccount: the account was never opened by a deposit.
	ErrUnknownAccount = errors.New("ledger: unknown account")
	// ErrInvalidAmount: the amount is zero or negative.
	ErrInvalidAmount = errors.New("ledger: invalid amount")
	// ErrOverflow: the deposit would take a balance or a total beyond
	// the int64 range.
	ErrOverflow = errors.New("ledger: amount overflow")
	// ErrInvalidAccount: the account id is empty, too long, not UTF-8,
	// or holds control characters.
	ErrInvalidAccount = errors.New("ledger: invalid account id")
	// ErrSameAccount: a transfer names one account as both ends.
	ErrSameAccount = errors.New("ledger: transfer to the same account")
	// ErrBadCommand: the command bytes are not a ledger command.
	ErrBadCommand = errors.New("ledger: malformed command")
	// ErrBadSnapshot: Restore read data that is not a consistent ledger.
	ErrBadSnapshot = errors.New("ledger: malformed snapshot")
)

// verdicts lists the sentinels by their stable one-byte code (index + 1)
// in encoded results. Append only.
var verdicts = []error{
	ErrInsufficientFunds, ErrUnknownAccount, ErrInvalidAmount, ErrOverflow,
	ErrInvalidAccount, ErrSameAccount, ErrBadCommand,
}
