package ledger

import (
	"encoding/binary"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/mandate-raft/mandate/fsm/session"
)

// MaxAccountLen is the longest account id, in bytes.
const MaxAccountLen = 128

// Command is a ledger write. Encode gives its compact binary form, the
// payload of a session envelope.
type Command interface {
	Encode() []byte
	command()
}

// Deposit adds Amount to Account, opening the account if it is new.
type Deposit struct {
	Account string
	Amount  int64
}

// Withdraw takes Amount from Account.
type Withdraw struct {
	Account string
	Amount  int64
}

// Transfer moves Amount from From to To, both existing accounts.
type Transfer struct {
	From, To string
	Amount   int64
}

const (
	opDeposit  byte = 1
	opWithdraw byte = 2
	opTransfer byte = 3
)

func (Deposit) command()  {}
func (Withdraw) command() {}
func (Transfer) command() {}

// Encode returns the command's binary form.
func (d Deposit) Encode() []byte { return encode(opDeposit, d.Account, "", d.Amount) }

// Encode returns the command's binary form.
func (w Withdraw) Encode() []byte { return encode(opWithdraw, w.Account, "", w.Amount) }

// Encode returns the command's binary form.
func (t Transfer) Encode() []byte { return encode(opTransfer, t.From, t.To, t.Amount) }

// encode lays out: op, account (uvarint length + bytes), for a transfer
// the second account likewise, then the amount as a zigzag varint.
func encode(op byte, a, b string, amount int64) []byte {
	buf := make([]byte, 0, 1+len(a)+len(b)+3*binary.MaxVarintLen64)
	buf = append(buf, op)
	buf = binary.AppendUvarint(buf, uint64(len(a)))
	buf = append(buf, a...)
	if op == opTransfer {
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	return binary.AppendVarint(buf, amount)
}

// Request wraps cmd for a one-request session named by requestID (see the
// package documentation for the retention rule): the bytes to propose.
func Request(requestID string, cmd Command) []byte {
	return session.Envelope{Client: requestID, Seq: 1, Ack: 1, Payload: cmd.Encode()}.Encode()
}

// DecodeCommand parses a command's binary form. It checks the layout only;
// account ids and amounts are validated when the command is applied.
// Failures wrap ErrBadCommand.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadCommand)
	}
	op, b := b[0], b[1:]
	if op != opDeposit && op != opWithdraw && op != opTransfer {
		return nil, fmt.Errorf("%w: unknown operation %d", ErrBadCommand, op)
	}
	a, b, err := readString(b)
	if err != nil {
		return nil, err
	}
	var to string
	if op == opTransfer {
		if to, b, err = readString(b); err != nil {
			return nil, err
		}
	}
	amount, n := binary.Varint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad amount", ErrBadCommand)
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadCommand, len(b)-n)
	}
	switch op {
	case opDeposit:
		return Deposit{Account: a, Amount: amount}, nil
	case opWithdraw:
		return Withdraw{Account: a, Amount: amount}, nil
	}
	return Transfer{From: a, To: to, Amount: amount}, nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, fmt.Errorf("%w: bad account field", ErrBadCommand)
	}
	if n > MaxAccountLen {
		return "", nil, fmt.Errorf("%w: account id of %d bytes (at most %d)", ErrInvalidAccount, n, MaxAccountLen)
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// ValidAccount reports why id cannot name an account, or nil.
func ValidAccount(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidAccount)
	}
	if len(id) > MaxAccountLen {
		return fmt.Errorf("%w: %d bytes (at most %d)", ErrInvalidAccount, len(id), MaxAccountLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidAccount)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q holds a control character", ErrInvalidAccount, id)
		}
	}
	return nil
}
