package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// deadAddr returns an address on 127.0.0.1 where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestClientMovesOnFromANodeThatRefusesConnections(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		json.NewEncoder(w).Encode(Status{ID: "n2", State: "Leader"})
	}))
	defer srv.Close()
	c, err := New([]string{deadAddr(t), srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil || st.ID != "n2" {
		t.Fatalf("Status = %+v, %v; want n2's status", st, err)
	}
	// The client now starts with the node that answered.
	if _, err := c.Status(context.Background()); err != nil || hits != 2 {
		t.Fatalf("second Status: %v, hits %d", err, hits)
	}
}

func TestClientReportsAllNodesUnreachable(t *testing.T) {
	c, err := New([]string{deadAddr(t), deadAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if !errors.Is(err, ErrUnreachable) || !IsRetryable(err) {
		t.Fatalf("err = %v; want ErrUnreachable, retryable", err)
	}
}

func TestClientDecodesAPIErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(ErrorBody{Error: ErrorDetail{Code: CodeNoLeader, Message: "no leader"}})
	}))
	defer srv.Close()
	c, _ := New([]string{srv.URL})
	_, err := c.Transfer(context.Background(), TransferRequest{From: "a", To: "b", Amount: 1})
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v; want *APIError", err)
	}
	if ae.Status != 503 || ae.Code != CodeNoLeader || ae.RetryAfter != 2*time.Second || !IsRetryable(err) {
		t.Errorf("APIError = %+v; want 503 no_leader retry after 2s, retryable", ae)
	}
	if CodeOf(err) != CodeNoLeader {
		t.Errorf("CodeOf = %q", CodeOf(err))
	}
}

func TestClientDoesNotResendARequestThatMayHaveArrived(t *testing.T) {
	var second int
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { second++ }))
	defer srv2.Close()
	// The first node reads the request, then drops the connection.
	srv1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv1.Close()
	c, _ := New([]string{srv1.URL, srv2.URL})
	_, err := c.Deposit(context.Background(), DepositRequest{Account: "a", Amount: 1})
	if !errors.Is(err, ErrNoResponse) {
		t.Fatalf("err = %v; want ErrNoResponse", err)
	}
	if second != 0 {
		t.Fatalf("the write was sent to a second node %d times; the client must leave that to its caller", second)
	}
}

func TestWritesGetARequestIDAndReadsCarryTheConsistency(t *testing.T) {
	var gotID, gotKey, gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var req DepositRequest
			json.NewDecoder(r.Body).Decode(&req)
			gotID, gotKey = req.RequestID, r.Header.Get("Idempotency-Key")
			json.NewEncoder(w).Encode(WriteResponse{RequestID: req.RequestID})
			return
		}
		gotQuery = r.URL.RawQuery
		json.NewEncoder(w).Encode(Account{ID: "a"})
	}))
	defer srv.Close()
	c, _ := New([]string{srv.URL})
	r, err := c.Deposit(context.Background(), DepositRequest{Account: "a", Amount: 1})
	if err != nil || len(gotID) != 32 || r.RequestID != gotID || gotKey != gotID {
		t.Fatalf("deposit: %v, request id sent %q (Idempotency-Key %q), answered %q", err, gotID, gotKey, r.RequestID)
	}
	if _, err := c.Balance(context.Background(), "a", Stale); err != nil || gotQuery != "consistency=stale" {
		t.Fatalf("stale balance: %v, query %q", err, gotQuery)
	}
	if _, err := c.Balance(context.Background(), "a", Linearizable); err != nil || gotQuery != "" {
		t.Fatalf("linearizable balance: %v, query %q", err, gotQuery)
	}
}

func TestNewRejectsBadAddresses(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := New([]string{"http://"}); err == nil {
		t.Error(`New("http://") succeeded`)
	}
	c, err := New([]string{"127.0.0.1:1,127.0.0.1:2"})
	if err != nil || len(c.Addrs()) != 2 {
		t.Fatalf("comma-separated addresses: %v %v", c, err)
	}
}
