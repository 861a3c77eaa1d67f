package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

// tally is a custom FSM for the generic routes: a command is a number
// added to the total (the result is the new total); anything else is
// refused; the query "total" reads the total.
type tally struct {
	mu    sync.Mutex
	total int
	raw   [][]byte // every command as Apply saw it
}

func (c *tally) Apply(cmd fsm.Command) fsm.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raw = append(c.raw, cmd.Data)
	n, err := strconv.Atoi(string(cmd.Data))
	if err != nil {
		return fsm.Result{Err: fmt.Errorf("not a number: %q", cmd.Data)}
	}
	c.total += n
	return fsm.Result{Value: map[string]int{"total": c.total}}
}

func (c *tally) Snapshot() (fsm.Snapshot, error) { return nil, errors.New("not needed") }
func (c *tally) Restore(io.Reader) error         { return errors.New("not needed") }

func (c *tally) Query(q []byte) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if string(q) != "total" {
		return nil, fmt.Errorf("unknown query %q", q)
	}
	return c.total, nil
}

// plain is an FSM without queries.
type plain struct{ tally }

func (*plain) Query() {} // shadows tally.Query: plain is no fsm.Querier

func TestGenericFSMRoutesApplyAndQuery(t *testing.T) {
	f := &tally{}
	rep := newFakeReplica(f)
	h := newTestServer(t, rep, NewFSMService("tally", f)).Handler()

	var a client.FSMApplyResponse
	mustOK(t, h, "POST", "/v1/fsm/apply", `{"command":"5"}`, &a)
	if a.Index != 1 || string(a.Result) != `{"total":5}` {
		t.Errorf("apply 5 = %+v (result %s), want index 1 and {\"total\":5}", a, a.Result)
	}
	mustOK(t, h, "POST", "/v1/fsm/apply", `{"command_base64":"MTA="}`, &a) // "10"
	if string(a.Result) != `{"total":15}` {
		t.Errorf("apply base64 10: result %s, want {\"total\":15}", a.Result)
	}
	var q client.FSMQueryResponse
	mustOK(t, h, "GET", "/v1/fsm/query?q=total", "", &q)
	if string(q.Result) != "15" {
		t.Errorf("query total = %s, want 15", q.Result)
	}
	if rep.barriers != 1 || rep.levels[0] != (ReadLevel{}) {
		t.Errorf("a default query made %d barriers at %v; want one linearizable barrier", rep.barriers, rep.levels)
	}
	mustOK(t, h, "GET", "/v1/fsm/query?q=total&consistency=stale", "", &q)
	if rep.barriers != 1 {
		t.Errorf("a stale query passed a read barrier")
	}

	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"FSM verdict", "POST", "/v1/fsm/apply", `{"command":"five"}`, 422, client.CodeFSMRejected},
		{"no command", "POST", "/v1/fsm/apply", `{}`, 400, client.CodeInvalidArgument},
		{"both forms", "POST", "/v1/fsm/apply", `{"command":"1","command_base64":"MQ=="}`, 400, client.CodeInvalidArgument},
		{"bad base64", "POST", "/v1/fsm/apply", `{"command_base64":"%%%"}`, 400, client.CodeInvalidArgument},
		{"request id without sessions", "POST", "/v1/fsm/apply", `{"command":"1","request_id":"r1"}`, 400, client.CodeInvalidArgument},
		{"unknown field", "POST", "/v1/fsm/apply", `{"cmd":"1"}`, 400, client.CodeInvalidJSON},
		{"query refused", "GET", "/v1/fsm/query?q=average", "", 422, client.CodeFSMRejected},
		{"query without q", "GET", "/v1/fsm/query", "", 400, client.CodeInvalidArgument},
		{"bad consistency", "GET", "/v1/fsm/query?q=total&consistency=eventual", "", 400, client.CodeInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, e, _, _ := apiCall(t, h, c.method, c.path, c.body)
			if code != c.status || e.Code != c.code {
				t.Errorf("%s %s %s: %d %q (%s), want %d %q", c.method, c.path, c.body, code, e.Code, e.Message, c.status, c.code)
			}
		})
	}
	if _, e, _, _ := apiCall(t, h, "POST", "/v1/fsm/apply", `{"command":"five"}`); e.Message != `not a number: "five"` {
		t.Errorf("an FSM verdict's message is %q; want the FSM's own", e.Message)
	}
	mustOK(t, h, "GET", "/v1/fsm/query?q=total", "", &q)
	if string(q.Result) != "15" {
		t.Errorf("after the refused requests the total is %s, want 15", q.Result)
	}
}

func TestGenericFSMRouteWithoutQuerierAnswersNotImplemented(t *testing.T) {
	f := &plain{}
	h := newTestServer(t, newFakeReplica(f), NewFSMService("plain", f)).Handler()
	code, e, _, _ := apiCall(t, h, "GET", "/v1/fsm/query?q=total", "")
	if code != http.StatusNotImplemented || e.Code != client.CodeNotImplemented {
		t.Errorf("query of an FSM without Query: %d %q, want 501 not_implemented", code, e.Code)
	}
}

func TestGenericFSMRouteRequestIDIsExactlyOnceUnderSessions(t *testing.T) {
	inner := &tally{}
	f := session.New(inner, session.Options{})
	h := newTestServer(t, newFakeReplica(f), NewFSMService("tally", f)).Handler()
	var first, again client.FSMApplyResponse
	mustOK(t, h, "POST", "/v1/fsm/apply", `{"command":"7","request_id":"r-1"}`, &first)
	mustOK(t, h, "POST", "/v1/fsm/apply", `{"command":"7","request_id":"r-1"}`, &again)
	var q client.FSMQueryResponse
	mustOK(t, h, "GET", "/v1/fsm/query?q=total", "", &q) // the inner FSM's Query
	if string(q.Result) != "7" {
		t.Errorf("total after a retried request = %s, want 7 (applied once)", q.Result)
	}
	if first.RequestID != "r-1" || string(first.Result) != `{"total":7}` {
		t.Errorf("first answer = %+v (%s)", first, first.Result)
	}
	var remembered map[string]int
	if err := json.Unmarshal(again.Result, &remembered); err != nil || remembered["total"] != 7 {
		t.Errorf("the retry's answer %s is not the remembered result {\"total\":7}", again.Result)
	}
	mustOK(t, h, "POST", "/v1/fsm/apply", `{"command":"1"}`, &first) // without an id: passed through
	if len(inner.raw) != 2 || string(inner.raw[1]) != "1" {
		t.Errorf("the inner FSM saw %q; want the payloads 7 and 1 unwrapped", inner.raw)
	}
}
