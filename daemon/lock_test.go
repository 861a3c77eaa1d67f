package daemon

import (
	"net/http"
	"testing"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/examples/lock"
)

func newLockServer(t *testing.T) http.Handler {
	t.Helper()
	l := lock.New(lock.Options{})
	return newTestServer(t, newFakeReplica(l), NewLockService(l)).Handler()
}

func TestLockLifecycleAndFencingTokens(t *testing.T) {
	h := newLockServer(t)
	if code, e, _, _ := apiCall(t, h, "GET", "/v1/locks/db", ""); code != 404 || e.Code != client.CodeUnknownLock {
		t.Errorf("show of a never-held lock: %d %q, want 404 unknown_lock", code, e.Code)
	}
	var first client.Lock
	mustOK(t, h, "POST", "/v1/locks/db/acquire", `{"owner":"a","ttl_ms":60000}`, &first)
	if first.Holder != "a" || first.Token == 0 || first.ExpiresAt == nil {
		t.Fatalf("acquire = %+v", first)
	}
	var shown client.Lock
	mustOK(t, h, "GET", "/v1/locks/db", "", &shown)
	if shown.Holder != "a" || shown.Token != first.Token {
		t.Errorf("show = %+v, want a's holding with token %d", shown, first.Token)
	}
	cases := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"held by another", "/v1/locks/db/acquire", `{"owner":"b","ttl_ms":1000}`, 409, client.CodeLockHeld},
		{"renew with a wrong token", "/v1/locks/db/renew", `{"owner":"a","token":999,"ttl_ms":1000}`, 409, client.CodeWrongToken},
		{"release by a non-holder", "/v1/locks/db/release", `{"owner":"b","token":1}`, 409, client.CodeNotHolder},
		{"no ttl", "/v1/locks/db/acquire", `{"owner":"b"}`, 400, client.CodeInvalidArgument},
		{"negative wait", "/v1/locks/db/acquire", `{"owner":"b","ttl_ms":10,"wait_ms":-1}`, 400, client.CodeInvalidArgument},
		{"ttl beyond the FSM's maximum", "/v1/locks/db/acquire", `{"owner":"b","ttl_ms":999999999999}`, 400, client.CodeInvalidArgument},
		{"no owner", "/v1/locks/db/release", `{"token":1}`, 400, client.CodeInvalidArgument},
		{"no token", "/v1/locks/db/release", `{"owner":"a"}`, 400, client.CodeInvalidArgument},
		{"unknown field", "/v1/locks/db/acquire", `{"owner":"b","ttl":5}`, 400, client.CodeInvalidJSON},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, e, _, _ := apiCall(t, h, "POST", c.path, c.body)
			if code != c.status || e.Code != c.code {
				t.Errorf("POST %s %s: %d %q (%s), want %d %q", c.path, c.body, code, e.Code, e.Message, c.status, c.code)
			}
		})
	}
	var renewed client.Lock
	mustOK(t, h, "POST", "/v1/locks/db/renew", `{"owner":"a","token":`+itoa(first.Token)+`,"ttl_ms":120000}`, &renewed)
	if renewed.Token != first.Token || !renewed.ExpiresAt.After(*first.ExpiresAt) {
		t.Errorf("renew = %+v; want the same token and a later expiry than %v", renewed, first.ExpiresAt)
	}
	// b queues, then gets the lock when a releases it, with a larger token.
	var queued client.Lock
	mustOK(t, h, "POST", "/v1/locks/db/acquire", `{"owner":"b","ttl_ms":1000,"wait_ms":60000}`, &queued)
	if !queued.Queued || queued.Position != 1 {
		t.Errorf("acquire with wait = %+v; want queued at position 1", queued)
	}
	mustOK(t, h, "POST", "/v1/locks/db/release", `{"owner":"a","token":`+itoa(first.Token)+`}`, nil)
	mustOK(t, h, "GET", "/v1/locks/db", "", &shown)
	if shown.Holder != "b" || shown.Token <= first.Token {
		t.Errorf("after release the lock is %+v; want b holding with a token above %d", shown, first.Token)
	}
}

func TestALockReleaseRetriedWithItsRequestIDIsAppliedOnce(t *testing.T) {
	h := newLockServer(t)
	var a client.Lock
	mustOK(t, h, "POST", "/v1/locks/db/acquire", `{"owner":"a","ttl_ms":60000}`, &a)
	release := `{"request_id":"rel-1","owner":"a","token":` + itoa(a.Token) + `}`
	mustOK(t, h, "POST", "/v1/locks/db/release", release, nil)
	// b takes the lock; a's retried release must not release b's holding.
	var b client.Lock
	mustOK(t, h, "POST", "/v1/locks/db/acquire", `{"owner":"b","ttl_ms":60000}`, &b)
	var again client.Lock
	mustOK(t, h, "POST", "/v1/locks/db/release", release, &again)
	if again.Holder != "" {
		t.Errorf("the retried release answered %+v; want the first answer (free)", again)
	}
	var shown client.Lock
	mustOK(t, h, "GET", "/v1/locks/db", "", &shown)
	if shown.Holder != "b" || shown.Token != b.Token {
		t.Fatalf("after a retried release the lock is %+v; want b's holding untouched", shown)
	}
}
