package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

// Receipt is the Value of a successful write's fsm.Result.
type Receipt struct {
	// Balance is the account's balance after the write (for a transfer,
	// the source account's).
	Balance int64
	// ToBalance is the destination's balance after a transfer; zero
	// otherwise.
	ToBalance int64
}

// resultCodec encodes ledger results for the session layer: a tag byte
// (0 for a receipt, else the verdict's code), then the two balances as
// varints or the error message.
type resultCodec struct{}

var _ session.ResultCodec = resultCodec{}

func (resultCodec) AppendResult(dst []byte, r fsm.Result) ([]byte, error) {
	if r.Err == nil {
		rc, ok := r.Value.(Receipt)
		if !ok {
			return dst, fmt.Errorf("ledger: result value %T is not a Receipt", r.Value)
		}
		dst = append(dst, 0)
		dst = binary.AppendVarint(dst, rc.Balance)
		return binary.AppendVarint(dst, rc.ToBalance), nil
	}
	code := byte(0xff) // an error outside the ledger's verdicts
	for i, v := range verdicts {
		if errors.Is(r.Err, v) {
			code = byte(i + 1)
			break
		}
	}
	dst = append(dst, code)
	return append(dst, r.Err.Error()...), nil
}

func (resultCodec) DecodeResult(b []byte) (fsm.Result, error) {
	if len(b) == 0 {
		return fsm.Result{}, errors.New("ledger: empty result")
	}
	if b[0] == 0 {
		bal, n := binary.Varint(b[1:])
		if n <= 0 {
			return fsm.Result{}, errors.New("ledger: bad result balance")
		}
		to, m := binary.Varint(b[1+n:])
		if m <= 0 || 1+n+m != len(b) {
			return fsm.Result{}, errors.New("ledger: bad result balance")
		}
		return fsm.Result{Value: Receipt{Balance: bal, ToBalance: to}}, nil
	}
	var sentinel error
	code := ""
	if i := int(b[0]) - 1; i < len(verdicts) {
		sentinel = verdicts[i]
		code = sentinel.Error()
	}
	return fsm.Result{Err: session.NewResultError(code, string(b[1:]), sentinel)}, nil
}
