package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/mandate-raft/mandate/client"
)

// apiError is an error that already knows its HTTP status and API code.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

// badRequest is a 400 invalid_argument with a formatted message.
func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: client.CodeInvalidArgument, message: fmt.Sprintf(format, args...)}
}

// errorMapping ties an error (matched with errors.Is) to a status and code.
type errorMapping struct {
	target error
	status int
	code   string
}

// retryAfterSeconds is the Retry-After hint on 503 answers: about one
// election timeout, after which a new leader is usually known.
const retryAfterSeconds = 1

// replicaErrors map the Replica's sentinels. Order matters: the first match
// wins, and an error may wrap several (an outcome-unknown error can wrap a
// not-leader cause).
var replicaErrors = []errorMapping{
	{ErrOutcomeUnknown, http.StatusServiceUnavailable, client.CodeOutcomeUnknown},
	{ErrNoLeader, http.StatusServiceUnavailable, client.CodeNoLeader},
	{ErrNotCommitted, http.StatusServiceUnavailable, client.CodeNotCommitted},
	{ErrTooStale, http.StatusServiceUnavailable, client.CodeTooStale},
	{ErrUnavailable, http.StatusServiceUnavailable, client.CodeUnavailable},
	{ErrUnsupported, http.StatusNotImplemented, client.CodeNotImplemented},
	{ErrUnknownMember, http.StatusNotFound, client.CodeUnknownMember},
	{ErrMembershipConflict, http.StatusConflict, client.CodeMembershipConflict},
}

// classify returns the status and code for err: an *apiError speaks for
// itself; then the FSM's own verdicts (fsmErrors), then the replica's
// sentinels; a context that ended is a 503 (the caller gave up or the
// server's deadline passed); anything else is a 500.
func classify(err error, fsmErrors []errorMapping) (int, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.code
	}
	for _, m := range fsmErrors {
		if errors.Is(err, m.target) {
			return m.status, m.code
		}
	}
	for _, m := range replicaErrors {
		if errors.Is(err, m.target) {
			return m.status, m.code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return http.StatusServiceUnavailable, client.CodeUnavailable
	}
	return http.StatusInternalServerError, client.CodeInternal
}

// writeError answers with the API error document for err.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := classify(err, s.fsmErrors)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	if status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusNotImplemented {
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	writeJSON(w, status, client.ErrorBody{Error: client.ErrorDetail{Code: code, Message: err.Error()}})
}

// writeJSON answers with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing useful to do
}
