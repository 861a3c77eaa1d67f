package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/wire"
)

// apiCall sends one request to h and returns the status, the decoded error
// document (if any) and the raw body.
func apiCall(t *testing.T, h http.Handler, method, path, body string) (int, client.ErrorDetail, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	raw := rec.Body.Bytes()
	var eb client.ErrorBody
	if rec.Code/100 != 2 {
		if err := json.Unmarshal(raw, &eb); err != nil {
			t.Fatalf("%s %s: status %d with a body that is not an error document: %q", method, path, rec.Code, raw)
		}
		if eb.Error.Code == "" || eb.Error.Message == "" {
			t.Fatalf("%s %s: error document without code or message: %q", method, path, raw)
		}
	}
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusOK || !strings.HasPrefix(path, "/metrics") {
		if ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
		}
	}
	return rec.Code, eb.Error, raw, rec.Header()
}

func newTestServer(t *testing.T, rep Replica, svc Service) *Server {
	t.Helper()
	name := ""
	if svc != nil {
		name = svc.Name()
	}
	s, err := NewServer(ServerConfig{Replica: rep, Service: svc, FSMName: name, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClusterStatusAndMembersDescribeTheReplica(t *testing.T) {
	rep := newFakeReplica(nil)
	h := newTestServer(t, rep, nil).Handler()

	code, _, raw, _ := apiCall(t, h, "GET", "/v1/status", "")
	if code != 200 {
		t.Fatalf("status: %d %s", code, raw)
	}
	var st client.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.ID != "n1" || st.State != "Leader" || st.LeaderID != "n1" || len(st.Members) != 3 || st.Version != "test" {
		t.Errorf("status = %+v", st)
	}
	code, _, raw, _ = apiCall(t, h, "GET", "/v1/cluster/members", "")
	var m client.MembersResponse
	if err := json.Unmarshal(raw, &m); err != nil || code != 200 {
		t.Fatalf("members: %d %s %v", code, raw, err)
	}
	want := []client.Member{{ID: "n1", Address: "127.0.0.1:7001", Role: "voter"}, {ID: "n2", Address: "127.0.0.1:7002", Role: "voter"}, {ID: "n3", Address: "127.0.0.1:7003", Role: "learner"}}
	if fmt.Sprint(m.Members) != fmt.Sprint(want) || m.LeaderID != "n1" {
		t.Errorf("members = %+v, want %+v led by n1", m, want)
	}
}

func TestMembershipRequestsAreValidatedAndForwarded(t *testing.T) {
	rep := newFakeReplica(nil)
	h := newTestServer(t, rep, nil).Handler()
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"add voter", "POST", "/v1/cluster/members", `{"id":"n4","address":"127.0.0.1:7004"}`, 200, ""},
		{"add learner", "POST", "/v1/cluster/members", `{"id":"n5","address":"127.0.0.1:7005","role":"learner"}`, 200, ""},
		{"bad role", "POST", "/v1/cluster/members", `{"id":"n6","address":"x:1","role":"boss"}`, 400, client.CodeInvalidArgument},
		{"no address", "POST", "/v1/cluster/members", `{"id":"n6"}`, 400, client.CodeInvalidArgument},
		{"no id", "POST", "/v1/cluster/members", `{"address":"x:1"}`, 400, client.CodeInvalidArgument},
		{"unknown field", "POST", "/v1/cluster/members", `{"id":"n6","address":"x:1","voter":true}`, 400, client.CodeInvalidJSON},
		{"remove", "DELETE", "/v1/cluster/members/n2", "", 200, ""},
		{"remove unknown", "DELETE", "/v1/cluster/members/n9", "", 404, client.CodeUnknownMember},
		{"transfer to n2", "POST", "/v1/cluster/transfer-leadership", `{"to":"n2"}`, 200, ""},
		{"transfer anywhere, no body", "POST", "/v1/cluster/transfer-leadership", "", 200, ""},
		{"snapshot", "POST", "/v1/cluster/snapshot", "", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, e, raw, _ := apiCall(t, h, c.method, c.path, c.body)
			if code != c.status || e.Code != c.code {
				t.Fatalf("%s %s %s: got %d %q (%s), want %d %q", c.method, c.path, c.body, code, e.Code, raw, c.status, c.code)
			}
		})
	}
	if len(rep.added) != 2 || rep.added[0] != (wire.Server{ID: "n4", Address: "127.0.0.1:7004", Role: wire.Voter}) || rep.added[1].Role != wire.Learner {
		t.Errorf("servers added = %+v", rep.added)
	}
	if len(rep.removed) != 1 || rep.removed[0] != "n2" {
		t.Errorf("servers removed = %v", rep.removed)
	}
}

func TestRuntimeErrorsMapToRetryableStatuses(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("%w: not the leader", ErrNoLeader), 503, client.CodeNoLeader},
		{fmt.Errorf("%w: x", ErrNotCommitted), 503, client.CodeNotCommitted},
		// Outcome unknown wins over a not-leader cause: the entry may be in.
		{fmt.Errorf("%w: %w", ErrOutcomeUnknown, fmt.Errorf("%w: lost", ErrNoLeader)), 503, client.CodeOutcomeUnknown},
		{fmt.Errorf("%w: x", ErrUnsupported), 501, client.CodeNotImplemented},
		{fmt.Errorf("%w: busy", ErrMembershipConflict), 409, client.CodeMembershipConflict},
		{errors.New("disk on fire"), 500, client.CodeInternal},
	}
	for _, c := range cases {
		rep := newFakeReplica(nil)
		rep.memberErr = c.err
		h := newTestServer(t, rep, nil).Handler()
		code, e, _, hdr := apiCall(t, h, "POST", "/v1/cluster/members", `{"id":"n4","address":"a:1"}`)
		if code != c.status || e.Code != c.code {
			t.Errorf("%v: got %d %q, want %d %q", c.err, code, e.Code, c.status, c.code)
		}
		if (code == 503) != (hdr.Get("Retry-After") != "") {
			t.Errorf("%v: status %d with Retry-After %q; want it exactly on 503", c.err, code, hdr.Get("Retry-After"))
		}
	}
}

func TestMalformedRequestsAreRejectedWithClearErrors(t *testing.T) {
	h := newTestServer(t, newFakeReplica(nil), nil).Handler()
	big := `{"id":"n4","address":"` + strings.Repeat("a", maxBodyBytes) + `"}`
	cases := []struct {
		name, body, code, msg string
		status                int
	}{
		{"empty body", "", client.CodeInvalidJSON, "empty", 400},
		{"not JSON", "id=n4", client.CodeInvalidJSON, "not valid JSON", 400},
		{"truncated", `{"id":"n4"`, client.CodeInvalidJSON, "truncated", 400},
		{"wrong type", `{"id":4}`, client.CodeInvalidJSON, `"id"`, 400},
		{"unknown field", `{"id":"n4","address":"a:1","colour":"red"}`, client.CodeInvalidJSON, `"colour"`, 400},
		{"two documents", `{"id":"n4","address":"a:1"} {}`, client.CodeInvalidJSON, "more than one", 400},
		{"too large", big, client.CodeBodyTooLarge, "exceeds", 413},
		{"id with a space", `{"id":"n 4","address":"a:1"}`, client.CodeInvalidArgument, "space", 400},
		{"id too long", `{"id":"` + strings.Repeat("x", maxIDLen+1) + `","address":"a:1"}`, client.CodeInvalidArgument, "at most", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, e, _, _ := apiCall(t, h, "POST", "/v1/cluster/members", c.body)
			if code != c.status || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
				t.Errorf("got %d %q %q, want %d %q mentioning %q", code, e.Code, e.Message, c.status, c.code, c.msg)
			}
		})
	}
}

func TestAKnownPathWithAnotherMethodIs405WithAllow(t *testing.T) {
	h := newTestServer(t, newFakeReplica(nil), nil).Handler()
	code, e, _, hdr := apiCall(t, h, "PUT", "/v1/cluster/members", `{}`)
	if code != 405 || e.Code != client.CodeMethodNotAllowed || hdr.Get("Allow") != "GET, POST" {
		t.Errorf("PUT /v1/cluster/members: %d %q Allow %q; want 405 method_not_allowed, Allow: GET, POST", code, e.Code, hdr.Get("Allow"))
	}
}

func TestUnknownRoutesAnswerWithJSONNotFound(t *testing.T) {
	h := newTestServer(t, newFakeReplica(nil), nil).Handler()
	for _, p := range []string{"/v1/nope", "/v1/ledger/audit", "/"} {
		code, e, _, _ := apiCall(t, h, "GET", p, "")
		if code != 404 || e.Code != client.CodeNotFound {
			t.Errorf("GET %s: %d %q, want 404 not_found", p, code, e.Code)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	rep := newFakeReplica(nil)
	h := newTestServer(t, rep, nil).Handler()
	if code, _, raw, _ := apiCall(t, h, "GET", "/healthz", ""); code != 200 {
		t.Errorf("healthz of a running node: %d %s", code, raw)
	}
	if code, _, raw, _ := apiCall(t, h, "GET", "/readyz", ""); code != 200 {
		t.Errorf("readyz with a leader: %d %s", code, raw)
	}
	rep.set(func(r *fakeReplica) { r.leader = wire.None })
	if code, e, _, _ := apiCall(t, h, "GET", "/readyz", ""); code != 503 || e.Code != client.CodeNoLeader {
		t.Errorf("readyz without a leader: %d %q, want 503 no_leader", code, e.Code)
	}
	rep.set(func(r *fakeReplica) { r.stopped = true })
	if code, _, _, _ := apiCall(t, h, "GET", "/healthz", ""); code != 503 {
		t.Errorf("healthz of a stopped node: %d, want 503", code)
	}
}

func TestMetricsExposeRaftAndHTTPSeries(t *testing.T) {
	h := newTestServer(t, newFakeReplica(nil), nil).Handler()
	apiCall(t, h, "GET", "/v1/status", "")
	req := httptest.NewRequest("GET", "/metrics", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.Bytes()
	for _, series := range []string{
		"mandate_raft_term 1", "mandate_raft_commit_index", "mandate_raft_applied_index",
		"mandate_raft_leader_changes_total", "mandate_raft_is_leader 1",
		`mandate_http_requests_total{code="200",method="GET",route="GET /v1/status"} 1`,
	} {
		if !bytes.Contains(body, []byte(series)) {
			t.Errorf("/metrics lacks %q", series)
		}
	}
}
