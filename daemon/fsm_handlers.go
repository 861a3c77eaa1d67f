package daemon

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

// fsmService serves /v1/fsm/* over any FSM: commands go to its Apply as
// they are sent, queries to its fsm.Querier if it has one.
type fsmService struct {
	name string
	// sessions is true when the FSM is wrapped in fsm/session, which is
	// what makes a request id exactly-once.
	sessions bool
	querier  fsm.Querier // nil: the FSM answers no queries
}

// NewFSMService serves the generic FSM routes over f, registered under
// name: POST /v1/fsm/apply and GET /v1/fsm/query. f may be a
// *session.FSM, in which case request ids are accepted and the inner FSM
// is asked for queries when the wrapper is no Querier itself.
func NewFSMService(name string, f fsm.FSM) Service {
	s := &fsmService{name: name}
	if q, ok := f.(fsm.Querier); ok {
		s.querier = q
	}
	if sf, ok := f.(*session.FSM); ok {
		s.sessions = true
		if q, ok := sf.Inner().(fsm.Querier); ok && s.querier == nil {
			s.querier = q
		}
	}
	return s
}

// Name implements Service.
func (s *fsmService) Name() string { return s.name }

func (s *fsmService) errorMappings() []errorMapping {
	return []errorMapping{
		{session.ErrBadEnvelope, http.StatusBadRequest, client.CodeInvalidArgument},
		{session.ErrSessionExpired, http.StatusConflict, client.CodeRequestConflict},
		{session.ErrStaleSequence, http.StatusConflict, client.CodeRequestConflict},
		{session.ErrTooManyPending, http.StatusConflict, client.CodeRequestConflict},
	}
}

// rejected turns an FSM's own verdict into a 422 fsm_rejected, unless it
// is one of the session layer's verdicts, which keep their codes.
func (s *fsmService) rejected(err error) error {
	for _, m := range s.errorMappings() {
		if errors.Is(err, m.target) {
			return err
		}
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: client.CodeFSMRejected, message: err.Error()}
}

// command decodes the request's command bytes: exactly one of command
// and command_base64.
func (req *fsmApplyBody) command() ([]byte, error) {
	switch {
	case req.Command != "" && req.CommandBase64 != "":
		return nil, badRequest("give either command or command_base64, not both")
	case req.Command != "":
		return []byte(req.Command), nil
	case req.CommandBase64 != "":
		b, err := base64.StdEncoding.DecodeString(req.CommandBase64)
		if err != nil {
			return nil, badRequest("command_base64 is not standard base64: %v", err)
		}
		if len(b) == 0 {
			return nil, badRequest("command_base64 decodes to an empty command")
		}
		return b, nil
	}
	return nil, badRequest("command (a string) or command_base64 (binary, base64) is required")
}

type fsmApplyBody client.FSMApplyRequest

// resultJSON encodes an FSM's value for the answer. A value JSON cannot
// encode (a channel, a map with non-string keys) is answered as its %v
// text rather than as an error: the command is committed either way.
func resultJSON(v any) json.RawMessage {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		b, _ = json.Marshal(fmt.Sprintf("%v", v)) // a string always encodes
	}
	return b
}

func (s *fsmService) routes(srv *Server) []route {
	return []route{
		{"POST /v1/fsm/apply", func(w http.ResponseWriter, r *http.Request) error {
			var req fsmApplyBody
			if err := decodeBody(w, r, &req); err != nil {
				return err
			}
			data, err := req.command()
			if err != nil {
				return err
			}
			if req.RequestID != "" {
				if !s.sessions {
					return badRequest("request_id needs an FSM wrapped in fsm/session (session.New); the %q FSM is not, so it could apply a retry twice", s.name)
				}
				if err := validName("request_id", req.RequestID); err != nil {
					return err
				}
				data = session.Envelope{Client: req.RequestID, Seq: 1, Ack: 1, Payload: data}.Encode()
			} else if s.sessions && session.IsEnvelope(data) {
				return badRequest("the command starts with the session envelope's magic prefix; send the payload with a request_id instead")
			}
			a, err := srv.apply(r, data)
			if err != nil {
				if a.Result.Err != nil && errors.Is(err, a.Result.Err) {
					return s.rejected(err)
				}
				return err
			}
			writeJSON(w, http.StatusOK, client.FSMApplyResponse{RequestID: req.RequestID, Index: a.Index, Result: resultJSON(a.Result.Value)})
			return nil
		}},
		{"GET /v1/fsm/query", func(w http.ResponseWriter, r *http.Request) error {
			if s.querier == nil {
				return &apiError{status: http.StatusNotImplemented, code: client.CodeNotImplemented,
					message: fmt.Sprintf("the %q FSM answers no queries (it does not implement fsm.Querier)", s.name)}
			}
			q := r.URL.Query()
			if _, ok := q["q"]; !ok {
				return badRequest("the query parameter q is required (it may be empty: ?q=)")
			}
			if err := srv.readBarrier(r); err != nil {
				return err
			}
			v, err := s.querier.Query([]byte(q.Get("q")))
			if err != nil {
				return s.rejected(err)
			}
			writeJSON(w, http.StatusOK, client.FSMQueryResponse{Result: resultJSON(v)})
			return nil
		}},
	}
}

// jsonable rewrites the generic maps a msgpack decoder makes
// (map[any]any, as fsm/session hands a retry its remembered result) into
// maps with string keys, so that a retry is answered with the same JSON
// as the first attempt. Other values are returned as they are.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}
