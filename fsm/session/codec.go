package session

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/wire"
)

// ResultCodec turns an inner FSM's results into bytes and back, so that the
// session layer can remember them across snapshots. An inner FSM that
// implements it encodes its own results.
//
// Implementations must be deterministic (the same Result gives the same
// bytes on every replica, because the bytes go into snapshots) and must
// keep errors.Is working for the errors callers test: DecodeResult should
// return errors that wrap the same sentinels the original did.
type ResultCodec interface {
	// AppendResult appends r's encoding to dst.
	AppendResult(dst []byte, r fsm.Result) ([]byte, error)
	// DecodeResult reverses AppendResult.
	DecodeResult(b []byte) (fsm.Result, error)
}

// ResultError is a remembered error after decoding: it keeps the original
// message and, when the original wrapped one of the codec's sentinels,
// wraps that sentinel too, so errors.Is gives the same answer as before.
type ResultError struct {
	// Code names the sentinel the original error wrapped (its Error text),
	// or is empty when it wrapped none of the codec's sentinels.
	Code string
	// Msg is the original error's message.
	Msg      string
	sentinel error
}

// NewResultError returns the decoded form of a remembered error: message
// msg, wrapping sentinel (which may be nil) under the stable code. It is
// for ResultCodec implementations outside this package.
func NewResultError(code, msg string, sentinel error) *ResultError {
	return &ResultError{Code: code, Msg: msg, sentinel: sentinel}
}

// Error returns the original error's message.
func (e *ResultError) Error() string { return e.Msg }

// Unwrap returns the sentinel the original error wrapped, if any.
func (e *ResultError) Unwrap() error { return e.sentinel }

// MsgpackCodec is the ResultCodec used for an inner FSM that has none of its
// own. Values must be msgpack-encodable; they come back as msgpack decodes
// them into an interface (integers as int64 or uint64, maps as
// map[any]any, structs as maps), so an FSM whose callers type-assert
// Result.Value should implement ResultCodec itself. Errors come back as
// *ResultError, wrapping the first of the codec's sentinels the original
// error matched with errors.Is.
type MsgpackCodec struct {
	h         *codec.MsgpackHandle
	sentinels []error
}

// NewMsgpackCodec returns a MsgpackCodec that recognises the given sentinel
// errors. Their Error texts are the stable codes written into snapshots, so
// they must not change between versions, and must be distinct.
func NewMsgpackCodec(sentinels ...error) *MsgpackCodec {
	return &MsgpackCodec{h: wire.MsgpackHandle(), sentinels: sentinels}
}

type msgpackResult struct {
	Value  any    `codec:"v,omitempty"`
	HasErr bool   `codec:"e,omitempty"`
	Code   string `codec:"c,omitempty"`
	Msg    string `codec:"m,omitempty"`
}

// AppendResult appends the msgpack form of r to dst.
func (c *MsgpackCodec) AppendResult(dst []byte, r fsm.Result) ([]byte, error) {
	w := msgpackResult{Value: r.Value}
	if r.Err != nil {
		w.HasErr, w.Msg = true, r.Err.Error()
		for _, s := range c.sentinels {
			if errors.Is(r.Err, s) {
				w.Code = s.Error()
				break
			}
		}
	}
	out := dst
	if err := codec.NewEncoderBytes(&out, c.h).Encode(&w); err != nil {
		return dst, fmt.Errorf("session: encode result: %w", err)
	}
	return out, nil
}

// DecodeResult decodes what AppendResult wrote.
func (c *MsgpackCodec) DecodeResult(b []byte) (fsm.Result, error) {
	var w msgpackResult
	if err := codec.NewDecoderBytes(b, c.h).Decode(&w); err != nil {
		return fsm.Result{}, fmt.Errorf("session: decode result: %w", err)
	}
	r := fsm.Result{Value: w.Value}
	if w.HasErr {
		e := &ResultError{Code: w.Code, Msg: w.Msg}
		for _, s := range c.sentinels {
			if w.Code != "" && s.Error() == w.Code {
				e.sentinel = s
				break
			}
		}
		r.Err = e
	}
	return r, nil
}
