package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// FSMApplyRequest is a command for a custom FSM (one registered with
// fsm.Register that has no routes of its own), sent to POST
// /v1/fsm/apply. Exactly one of Command (the command's bytes as a UTF-8
// string) and CommandBase64 (standard base64, for binary commands) is set.
//
// RequestID makes the write exactly-once, a retry with the same id being
// answered with the first attempt's result. It is accepted only by an
// FSM wrapped in fsm/session (session.New); other FSMs refuse it with
// CodeInvalidArgument, because they would apply a retry twice.
type FSMApplyRequest struct {
	RequestID     string `json:"request_id,omitempty"`
	Command       string `json:"command,omitempty"`
	CommandBase64 string `json:"command_base64,omitempty"`
}

// FSMApplyResponse is a committed command's log index and the FSM's
// Result.Value encoded as JSON (null when the FSM returned none).
type FSMApplyResponse struct {
	RequestID string          `json:"request_id,omitempty"`
	Index     uint64          `json:"index"`
	Result    json.RawMessage `json:"result"`
}

// FSMQueryResponse is a custom FSM's answer to a query (fsm.Querier),
// encoded as JSON.
type FSMQueryResponse struct {
	Result json.RawMessage `json:"result"`
}

// ApplyFSM sends a command to a custom FSM. With a RequestID the request
// is marked idempotent, so that the HTTP stack may resend it on a fresh
// connection; without one it is sent once.
func (c *Client) ApplyFSM(ctx context.Context, req FSMApplyRequest) (FSMApplyResponse, error) {
	var r FSMApplyResponse
	var in any = req
	if req.RequestID != "" {
		in = idempotent{req.RequestID, req}
	}
	err := c.do(ctx, http.MethodPost, "/v1/fsm/apply", nil, in, &r)
	return r, err
}

// QueryFSM asks a custom FSM that implements fsm.Querier the query q, at
// the given consistency.
func (c *Client) QueryFSM(ctx context.Context, q string, cons Consistency) (FSMQueryResponse, error) {
	query := consistencyQuery(cons)
	if query == nil {
		query = url.Values{}
	}
	query.Set("q", q)
	var r FSMQueryResponse
	err := c.do(ctx, http.MethodGet, "/v1/fsm/query", query, nil, &r)
	return r, err
}
