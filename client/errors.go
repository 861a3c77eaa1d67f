package client

import (
	"errors"
	"fmt"
	"time"
)

// Error codes the API returns in ErrorDetail.Code. Each maps to one HTTP
// status; callers act on the code, never on the message.
const (
	// CodeInvalidJSON (400): the body is not one JSON object of the expected
	// shape, has unknown fields or trailing data.
	CodeInvalidJSON = "invalid_json"
	// CodeInvalidArgument (400): a field's value is not acceptable (an
	// amount that is not positive, an empty account id, ...).
	CodeInvalidArgument = "invalid_argument"
	// CodeBodyTooLarge (413): the body exceeds the server's limit.
	CodeBodyTooLarge = "body_too_large"
	// CodeNotFound (404): no such route, or a route for an FSM this node
	// does not run.
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed (405): the route exists for other methods.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeUnknownAccount (404): the ledger has no such account.
	CodeUnknownAccount = "unknown_account"
	// CodeUnknownLock (404): no such lock has ever been held.
	CodeUnknownLock = "unknown_lock"
	// CodeUnknownMember (404): no such server in the configuration.
	CodeUnknownMember = "unknown_member"
	// CodeInsufficientFunds (409): a withdrawal or transfer would make a
	// balance negative; nothing changed.
	CodeInsufficientFunds = "insufficient_funds"
	// CodeOverflow (409): the write would overflow a balance or a total.
	CodeOverflow = "overflow"
	// CodeLockHeld (409): another owner holds the lock.
	CodeLockHeld = "lock_held"
	// CodeWrongToken (409): the fencing token is not the current one.
	CodeWrongToken = "wrong_token"
	// CodeNotHolder (409): the owner does not hold the lock.
	CodeNotHolder = "not_holder"
	// CodeRequestConflict (409): the request id was already used and its
	// remembered outcome is no longer available (an expired session).
	CodeRequestConflict = "request_conflict"
	// CodeMembershipConflict (409): a membership change was refused, for
	// example because another one is still in progress.
	CodeMembershipConflict = "membership_conflict"
	// CodeFSMRejected (422): a custom FSM refused the command or the
	// query (its Result.Err or its Query error); the message is the FSM's
	// own. A refused command is still committed (every replica reached the
	// same verdict), so resending it is refused again.
	CodeFSMRejected = "fsm_rejected"
	// CodeNotLeader (421): the request is served by the leader only
	// (leadership transfer); the message names it.
	CodeNotLeader = "not_leader"
	// CodeNothingToSnapshot (409): the node has applied nothing to
	// snapshot yet.
	CodeNothingToSnapshot = "nothing_to_snapshot"
	// CodeNoLeader (503, Retry-After): the cluster has no reachable leader
	// right now. The write was not committed; retrying is safe.
	CodeNoLeader = "no_leader"
	// CodeNotCommitted (503, Retry-After): the write was definitely not
	// committed (for example the node is shutting down). Retrying is safe.
	CodeNotCommitted = "not_committed"
	// CodeOutcomeUnknown (503, Retry-After): the write may or may not have
	// committed. Retry only with the same request id (ledger writes) or if
	// the operation is idempotent.
	CodeOutcomeUnknown = "outcome_unknown"
	// CodeUnavailable (503, Retry-After): the node cannot serve the request
	// now (a read that could not be confirmed with a quorum, a node that is
	// starting or stopping).
	CodeUnavailable = "unavailable"
	// CodeTooStale (503, Retry-After): a bounded-staleness read found the
	// node further behind than allowed; read elsewhere or later.
	CodeTooStale = "too_stale"
	// CodeNotImplemented (501): the feature is not available in this
	// build.
	CodeNotImplemented = "not_implemented"
	// CodeInternal (500): a bug or an unexpected local failure.
	CodeInternal = "internal"
)

// ErrUnreachable is wrapped by the error a Client returns when no node it
// knows could be reached at all.
var ErrUnreachable = errors.New("client: no node reachable")

// APIError is a non-2xx answer from a node.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is one of the Code constants (or a newer code this client does
	// not know).
	Code string
	// Message is the server's human-readable explanation.
	Message string
	// RetryAfter is the server's Retry-After hint, zero if none.
	RetryAfter time.Duration
	// Node is the address of the node that answered.
	Node string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// CodeOf returns the API error code carried by err, or "" when err is not
// (and does not wrap) an *APIError.
func CodeOf(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// IsRetryable reports whether err is a transient condition after which the
// same request may be sent again: no leader, not committed, outcome
// unknown (safe for ledger writes because they carry a request id), an
// unavailable node, or no node reachable. Callers that send
// non-idempotent operations must treat CodeOutcomeUnknown themselves.
func IsRetryable(err error) bool {
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	switch CodeOf(err) {
	case CodeNoLeader, CodeNotCommitted, CodeOutcomeUnknown, CodeUnavailable, CodeTooStale:
		return true
	}
	return false
}
