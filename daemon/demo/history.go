package demo

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// history records what the clients saw, for a linearizability check with
// porcupine: each transfer from its first attempt to its final answer
// (retries included), and linearizable balance reads.
type history struct {
	mu      sync.Mutex
	start   time.Time
	ops     []porcupine.Operation
	pending map[string]int // request id -> index in ops of an abandoned transfer
}

// transferIn and transferOut are a transfer's input and observed output.
// An acknowledged transfer's output carries both new balances, which the
// model checks too.
type transferIn struct {
	from, to int
	amount   int64
}

type transferOut struct {
	ok             bool
	fromBal, toBal int64
}

// readIn and readOut are a linearizable balance read.
type readIn struct{ acct int }

type readOut struct{ bal int64 }

func newHistory(start time.Time) *history {
	return &history{start: start, pending: map[string]int{}}
}

func (h *history) at(t time.Time) int64 { return int64(t.Sub(h.start)) }

func (h *history) add(client int, in, out any, call, ret time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: h.at(call), Return: h.at(ret)})
}

// abandon records a transfer whose outcome is not known yet; resolve
// completes it once settle learned it.
func (h *history) abandon(client int, requestID string, in transferIn, call time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending[requestID] = len(h.ops)
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: h.at(call), Return: math.MaxInt64})
}

func (h *history) resolve(requestID string, out transferOut, ret time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i, ok := h.pending[requestID]; ok {
		h.ops[i].Output, h.ops[i].Return = out, h.at(ret)
		delete(h.pending, requestID)
	}
}

// ledgerModel is the sequential specification: balances of accounts
// 0..n-1; a transfer moves the amount if the source holds it (and then
// reports both new balances) and is refused otherwise; a read returns one
// balance.
func ledgerModel(n int, initial int64) porcupine.Model {
	return porcupine.Model{
		Init: func() any {
			s := make([]int64, n)
			for i := range s {
				s[i] = initial
			}
			return s
		},
		Step: func(state, input, output any) (bool, any) {
			s := state.([]int64)
			switch in := input.(type) {
			case transferIn:
				out := output.(transferOut)
				if s[in.from] < in.amount {
					return !out.ok, s
				}
				next := slices.Clone(s)
				next[in.from] -= in.amount
				next[in.to] += in.amount
				return out.ok && out.fromBal == next[in.from] && out.toBal == next[in.to], next
			case readIn:
				return output.(readOut).bal == s[in.acct], s
			}
			panic(fmt.Sprintf("demo: unknown operation %T in the history", input))
		},
		Equal: func(a, b any) bool { return slices.Equal(a.([]int64), b.([]int64)) },
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			var b [8]byte
			for _, v := range state.([]int64) {
				for i := range b {
					b[i] = byte(v >> (8 * i))
				}
				h.Write(b[:])
			}
			return h.Sum64()
		},
		DescribeOperation: func(input, output any) string {
			switch in := input.(type) {
			case transferIn:
				out := output.(transferOut)
				if !out.ok {
					return fmt.Sprintf("transfer(%d->%d, %d) refused", in.from, in.to, in.amount)
				}
				return fmt.Sprintf("transfer(%d->%d, %d) -> %d, %d", in.from, in.to, in.amount, out.fromBal, out.toBal)
			case readIn:
				return fmt.Sprintf("balance(%d) -> %d", in.acct, output.(readOut).bal)
			}
			return "?"
		},
	}
}

// check runs porcupine over the history. It returns the result, the
// number of operations checked, and how long the check took.
func (h *history) check(ctx context.Context, accounts int, initial int64, timeout time.Duration) (porcupine.CheckResult, int, time.Duration, error) {
	h.mu.Lock()
	ops := slices.Clone(h.ops)
	unresolved := len(h.pending)
	h.mu.Unlock()
	if unresolved > 0 {
		return porcupine.Unknown, 0, 0, fmt.Errorf("%d transfers in the history were never settled", unresolved)
	}
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(ledgerModel(accounts, initial), ops, timeout)
	return res, len(ops), time.Since(start), ctx.Err()
}
