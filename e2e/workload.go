//go:build unix

package e2e

import (
	"context"
	"errors"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// Outcome is what a client finally learned about a write.
type Outcome int

const (
	// Unknown: no definite answer before the client gave up; the write
	// may have been applied once, or not at all.
	Unknown Outcome = iota
	// Applied: acknowledged, possibly through a retry with the same
	// request id.
	Applied
	// Refused: a definite verdict that nothing changed (an FSM refusal
	// such as insufficient funds).
	Refused
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// transient reports whether err leaves a write's outcome open, so that
// the same request (same request id) should be sent again: no leader, not
// committed, outcome unknown, a node that could not serve, a node that
// could not be reached, or an answer that never came.
func transient(err error) bool {
	return client.IsRetryable(err) || errors.Is(err, client.ErrNoResponse) ||
		errors.Is(err, context.DeadlineExceeded)
}

// retryWrite sends a write with attempt until it gets a definite answer,
// trying the nodes in turn (attempt gets the node to use), pausing
// between attempts, until ctx ends. It returns the last error (nil when
// the write was acknowledged) and whether that answer is definite.
func retryWrite(ctx context.Context, nodes []*Node, first int, attempt func(ctx context.Context, n *Node) error) (err error, definite bool) {
	for i := first; ; i++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err = attempt(actx, nodes[i%len(nodes)])
		cancel()
		if err == nil || !transient(err) {
			return err, true
		}
		select {
		case <-ctx.Done():
			return err, false
		case <-time.After(60 * time.Millisecond):
		}
	}
}

// attemptTimeout bounds one attempt of a write: a node that is paused or
// cut off does not hold a client longer than this before it tries the
// next node with the same request.
const attemptTimeout = 3 * time.Second
