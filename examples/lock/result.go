package lock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

// resultCodec encodes lock results for the session layer: a tag byte (0
// for a Lease, else the verdict's code), then the lease's fields or the
// error message.
type resultCodec struct{}

var _ session.ResultCodec = resultCodec{}

func (resultCodec) AppendResult(dst []byte, r fsm.Result) ([]byte, error) {
	if r.Err != nil {
		code := byte(0xff)
		for i, v := range verdicts {
			if errors.Is(r.Err, v) {
				code = byte(i + 1)
				break
			}
		}
		return append(append(dst, code), r.Err.Error()...), nil
	}
	l, ok := r.Value.(Lease)
	if !ok {
		return dst, fmt.Errorf("lock: result value %T is not a Lease", r.Value)
	}
	dst = append(dst, 0)
	dst = appendString(dst, l.Name)
	dst = appendString(dst, l.Holder)
	dst = binary.AppendUvarint(dst, l.Token)
	dst = binary.AppendVarint(dst, timeNS(l.Expiry))
	q := byte(0)
	if l.Queued {
		q = 1
	}
	dst = append(dst, q)
	dst = binary.AppendUvarint(dst, uint64(l.Position))
	dst = binary.AppendVarint(dst, timeNS(l.Deadline))
	return binary.AppendUvarint(dst, uint64(l.Waiters)), nil
}

func (resultCodec) DecodeResult(b []byte) (fsm.Result, error) {
	if len(b) == 0 {
		return fsm.Result{}, errors.New("lock: empty result")
	}
	if b[0] != 0 {
		var sentinel error
		code := ""
		if i := int(b[0]) - 1; i < len(verdicts) {
			sentinel, code = verdicts[i], verdicts[i].Error()
		}
		return fsm.Result{Err: session.NewResultError(code, string(b[1:]), sentinel)}, nil
	}
	d := &decoder{b: b[1:]}
	l := Lease{Name: d.str("name"), Holder: d.str("holder"), Token: d.uvarint("token")}
	l.Expiry = unixTime(d.varint("expiry"))
	if len(d.b) == 0 {
		d.fail("queued")
	} else {
		l.Queued, d.b = d.b[0] == 1, d.b[1:]
	}
	l.Position = int(d.uvarint("position"))
	l.Deadline = unixTime(d.varint("deadline"))
	l.Waiters = int(d.uvarint("waiters"))
	if d.err == nil && len(d.b) != 0 {
		d.fail("result length")
	}
	if d.err != nil {
		return fsm.Result{}, d.err
	}
	return fsm.Result{Value: l}, nil
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func timeNS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (d *decoder) varint(what string) int64 {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[k:]
	return v
}
