package daemon

import (
	"fmt"
	"net/http"
	"time"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/examples/lock"
	"github.com/mandate-raft/mandate/fsm/session"
)

// lockService serves /v1/locks/* over an examples/lock FSM.
type lockService struct{ l *lock.Lock }

// NewLockService serves the lock routes over l, the FSM instance the node
// applies commands to (Show reads it directly, after a read barrier unless
// the request asks for a stale read).
func NewLockService(l *lock.Lock) Service { return &lockService{l: l} }

// Name implements Service.
func (s *lockService) Name() string { return "lock" }

func (s *lockService) errorMappings() []errorMapping {
	return []errorMapping{
		{lock.ErrLockHeld, http.StatusConflict, client.CodeLockHeld},
		{lock.ErrWrongToken, http.StatusConflict, client.CodeWrongToken},
		{lock.ErrNotHolder, http.StatusConflict, client.CodeNotHolder},
		{lock.ErrQueueFull, http.StatusConflict, client.CodeLockHeld},
		{lock.ErrInvalidName, http.StatusBadRequest, client.CodeInvalidArgument},
		{lock.ErrInvalidDuration, http.StatusBadRequest, client.CodeInvalidArgument},
		{lock.ErrBadCommand, http.StatusBadRequest, client.CodeInvalidArgument},
		{session.ErrBadEnvelope, http.StatusBadRequest, client.CodeInvalidArgument},
		{session.ErrSessionExpired, http.StatusConflict, client.CodeRequestConflict},
		{session.ErrStaleSequence, http.StatusConflict, client.CodeRequestConflict},
		{session.ErrTooManyPending, http.StatusConflict, client.CodeRequestConflict},
	}
}

// toClientLock converts the FSM's lease to the API's document.
func toClientLock(l lock.Lease) client.Lock {
	out := client.Lock{Name: l.Name, Holder: l.Holder, Token: l.Token, Queued: l.Queued, Position: l.Position, Waiters: l.Waiters}
	if !l.Expiry.IsZero() {
		t := l.Expiry
		out.ExpiresAt = &t
	}
	if !l.Deadline.IsZero() {
		t := l.Deadline
		out.WaitDeadline = &t
	}
	return out
}

func positiveMillis(field string, ms int64) error {
	if ms <= 0 {
		return badRequest("%s must be a positive number of milliseconds, not %d", field, ms)
	}
	return nil
}

func (s *lockService) routes(srv *Server) []route {
	// write proposes the command build returns; with a request id it
	// travels in a one-request session, so a retry is applied once.
	write := func(build func(w http.ResponseWriter, r *http.Request, name string) (string, lock.Command, error)) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			name := r.PathValue("name")
			if err := validName("lock name", name); err != nil {
				return err
			}
			reqID, cmd, err := build(w, r, name)
			if err != nil {
				return err
			}
			data := cmd.Encode()
			if reqID != "" {
				if err := validName("request_id", reqID); err != nil {
					return err
				}
				data = session.Envelope{Client: reqID, Seq: 1, Ack: 1, Payload: data}.Encode()
			}
			a, err := srv.apply(r, data)
			if err != nil {
				return err
			}
			lease, ok := a.Result.Value.(lock.Lease)
			if !ok {
				return fmt.Errorf("lock FSM returned %T, not a lease", a.Result.Value)
			}
			writeJSON(w, http.StatusOK, toClientLock(lease))
			return nil
		}
	}
	return []route{
		{"POST /v1/locks/{name}/acquire", write(func(w http.ResponseWriter, r *http.Request, name string) (string, lock.Command, error) {
			var req client.LockAcquireRequest
			if err := decodeBody(w, r, &req); err != nil {
				return "", nil, err
			}
			if err := validName("owner", req.Owner); err != nil {
				return "", nil, err
			}
			if err := positiveMillis("ttl_ms", req.TTLMillis); err != nil {
				return "", nil, err
			}
			if req.WaitMillis < 0 {
				return "", nil, badRequest("wait_ms must not be negative, got %d", req.WaitMillis)
			}
			return req.RequestID, lock.Acquire{Name: name, Owner: req.Owner, TTL: ms(req.TTLMillis), Wait: ms(req.WaitMillis)}, nil
		})},
		{"POST /v1/locks/{name}/renew", write(func(w http.ResponseWriter, r *http.Request, name string) (string, lock.Command, error) {
			var req client.LockRenewRequest
			if err := decodeBody(w, r, &req); err != nil {
				return "", nil, err
			}
			if err := validName("owner", req.Owner); err != nil {
				return "", nil, err
			}
			if req.Token == 0 {
				return "", nil, badRequest("token (the fencing token the acquire returned) is required")
			}
			if err := positiveMillis("ttl_ms", req.TTLMillis); err != nil {
				return "", nil, err
			}
			return req.RequestID, lock.Renew{Name: name, Owner: req.Owner, Token: req.Token, TTL: ms(req.TTLMillis)}, nil
		})},
		{"POST /v1/locks/{name}/release", write(func(w http.ResponseWriter, r *http.Request, name string) (string, lock.Command, error) {
			var req client.LockReleaseRequest
			if err := decodeBody(w, r, &req); err != nil {
				return "", nil, err
			}
			if err := validName("owner", req.Owner); err != nil {
				return "", nil, err
			}
			if req.Token == 0 {
				return "", nil, badRequest("token (the fencing token the acquire returned) is required")
			}
			return req.RequestID, lock.Release{Name: name, Owner: req.Owner, Token: req.Token}, nil
		})},
		{"GET /v1/locks/{name}", func(w http.ResponseWriter, r *http.Request) error {
			name := r.PathValue("name")
			if err := validName("lock name", name); err != nil {
				return err
			}
			if err := srv.readBarrier(r); err != nil {
				return err
			}
			lease, err := s.l.Show(name)
			if err != nil {
				return err
			}
			if lease.Holder == "" && lease.Token == 0 && lease.Waiters == 0 {
				return &apiError{status: http.StatusNotFound, code: client.CodeUnknownLock,
					message: fmt.Sprintf("lock %q is not held and nobody waits for it", name)}
			}
			writeJSON(w, http.StatusOK, toClientLock(lease))
			return nil
		}},
	}
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
