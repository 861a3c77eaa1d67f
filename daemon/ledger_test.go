package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/examples/ledger"
)

func newLedgerServer(t *testing.T) (http.Handler, *fakeReplica) {
	t.Helper()
	l := ledger.New(ledger.Options{})
	rep := newFakeReplica(l)
	return newTestServer(t, rep, NewLedgerService(l, func() uint64 { return rep.Status().Applied })).Handler(), rep
}

// mustOK sends a request that must succeed and decodes its answer.
func mustOK(t *testing.T, h http.Handler, method, path, body string, out any) {
	t.Helper()
	code, e, raw, _ := apiCall(t, h, method, path, body)
	if code != 200 {
		t.Fatalf("%s %s %s: %d %s: %s", method, path, body, code, e.Code, e.Message)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
}

func TestLedgerWritesAndReads(t *testing.T) {
	h, _ := newLedgerServer(t)
	var w client.WriteResponse
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"request_id":"r1","account":"alice","amount":100}`, &w)
	if w.RequestID != "r1" || w.Index == 0 || w.Balances["alice"] != 100 {
		t.Errorf("deposit answer = %+v", w)
	}
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"account":"bob","amount":5}`, &w)
	if len(w.RequestID) == 0 {
		t.Error("a deposit without request id got none generated")
	}
	mustOK(t, h, "POST", "/v1/ledger/transfer", `{"request_id":"r2","from":"alice","to":"bob","amount":30}`, &w)
	if w.Balances["alice"] != 70 || w.Balances["bob"] != 35 {
		t.Errorf("transfer balances = %v, want alice 70 bob 35", w.Balances)
	}
	mustOK(t, h, "POST", "/v1/ledger/withdraw", `{"request_id":"r3","account":"bob","amount":10}`, &w)
	if w.Balances["bob"] != 25 {
		t.Errorf("withdraw balances = %v, want bob 25", w.Balances)
	}

	var a client.Account
	mustOK(t, h, "GET", "/v1/ledger/accounts/alice", "", &a)
	if a != (client.Account{ID: "alice", Balance: 70}) {
		t.Errorf("balance = %+v", a)
	}
	var audit client.Audit
	mustOK(t, h, "GET", "/v1/ledger/audit", "", &audit)
	want := client.Audit{Accounts: 2, Total: 95, Deposited: 105, Withdrawn: 10, Reconciles: true, AppliedIndex: 4}
	if audit != want {
		t.Errorf("audit = %+v, want %+v", audit, want)
	}
}

func TestLedgerRetryWithTheSameRequestIDIsAppliedOnce(t *testing.T) {
	h, _ := newLedgerServer(t)
	var first, again client.WriteResponse
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"request_id":"dup","account":"alice","amount":100}`, &first)
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"request_id":"dup","account":"alice","amount":100}`, &again)
	if again.Balances["alice"] != 100 {
		t.Errorf("the retry answered %v; want the first attempt's balance 100", again.Balances)
	}
	var a client.Account
	mustOK(t, h, "GET", "/v1/ledger/accounts/alice", "", &a)
	if a.Balance != 100 {
		t.Fatalf("balance after a retried deposit = %d, want 100 (applied once)", a.Balance)
	}
}

func TestLedgerErrorsHaveFittingStatusesAndCodes(t *testing.T) {
	h, _ := newLedgerServer(t)
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"account":"alice","amount":100}`, nil)
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"account":"bob","amount":1}`, nil)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"negative amount", "POST", "/v1/ledger/deposit", `{"account":"alice","amount":-5}`, 400, client.CodeInvalidArgument},
		{"zero amount", "POST", "/v1/ledger/withdraw", `{"account":"alice","amount":0}`, 400, client.CodeInvalidArgument},
		{"amount is a string", "POST", "/v1/ledger/deposit", `{"account":"alice","amount":"5"}`, 400, client.CodeInvalidJSON},
		{"fractional amount", "POST", "/v1/ledger/deposit", `{"account":"alice","amount":1.5}`, 400, client.CodeInvalidJSON},
		{"amount beyond int64", "POST", "/v1/ledger/deposit", `{"account":"alice","amount":9223372036854775808}`, 400, client.CodeInvalidJSON},
		{"missing account", "POST", "/v1/ledger/deposit", `{"amount":5}`, 400, client.CodeInvalidArgument},
		{"account with a control char", "POST", "/v1/ledger/deposit", `{"account":"a\u0001","amount":5}`, 400, client.CodeInvalidArgument},
		{"unknown field", "POST", "/v1/ledger/deposit", `{"account":"alice","amount":5,"memo":"hi"}`, 400, client.CodeInvalidJSON},
		{"bad JSON", "POST", "/v1/ledger/transfer", `{"from":`, 400, client.CodeInvalidJSON},
		{"same account", "POST", "/v1/ledger/transfer", `{"from":"alice","to":"alice","amount":1}`, 400, client.CodeInvalidArgument},
		{"insufficient funds", "POST", "/v1/ledger/withdraw", `{"account":"alice","amount":101}`, 409, client.CodeInsufficientFunds},
		{"transfer beyond balance", "POST", "/v1/ledger/transfer", `{"from":"alice","to":"bob","amount":500}`, 409, client.CodeInsufficientFunds},
		{"overflow", "POST", "/v1/ledger/deposit", `{"account":"alice","amount":9223372036854775807}`, 409, client.CodeOverflow},
		{"transfer to unknown", "POST", "/v1/ledger/transfer", `{"from":"alice","to":"carol","amount":1}`, 404, client.CodeUnknownAccount},
		{"withdraw from unknown", "POST", "/v1/ledger/withdraw", `{"account":"nobody","amount":1}`, 404, client.CodeUnknownAccount},
		{"balance of unknown", "GET", "/v1/ledger/accounts/nobody", "", 404, client.CodeUnknownAccount},
		{"bad limit", "GET", "/v1/ledger/accounts?limit=0", "", 400, client.CodeInvalidArgument},
		{"limit not a number", "GET", "/v1/ledger/accounts?limit=ten", "", 400, client.CodeInvalidArgument},
		{"bad consistency", "GET", "/v1/ledger/audit?consistency=eventual", "", 400, client.CodeInvalidArgument},
		{"wrong method", "GET", "/v1/ledger/deposit", "", 405, client.CodeMethodNotAllowed},
		{"no such route", "GET", "/v1/ledger/nothing", "", 404, client.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, e, _, _ := apiCall(t, h, c.method, c.path, c.body)
			if code != c.status || e.Code != c.code {
				t.Errorf("%s %s %s: got %d %q (%s), want %d %q", c.method, c.path, c.body, code, e.Code, e.Message, c.status, c.code)
			}
		})
	}
	// None of the refused writes moved money.
	var audit client.Audit
	mustOK(t, h, "GET", "/v1/ledger/audit", "", &audit)
	if audit.Total != 101 || audit.Deposited != 101 || audit.Withdrawn != 0 || audit.Accounts != 2 {
		t.Errorf("after refused writes the audit is %+v; want only the two deposits", audit)
	}
}

func TestLedgerAccountsArePaged(t *testing.T) {
	h, _ := newLedgerServer(t)
	for i := range 7 {
		mustOK(t, h, "POST", "/v1/ledger/deposit", fmt.Sprintf(`{"account":"a%d","amount":%d}`, i, i+1), nil)
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		var p client.AccountsResponse
		mustOK(t, h, "GET", "/v1/ledger/accounts?limit=3&after="+after, "", &p)
		for _, a := range p.Accounts {
			got = append(got, a.ID)
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if strings.Join(got, ",") != "a0,a1,a2,a3,a4,a5,a6" {
		t.Errorf("paged accounts = %v", got)
	}
}

func TestLedgerReadsAreLinearizableUnlessStaleIsAsked(t *testing.T) {
	h, rep := newLedgerServer(t)
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"account":"alice","amount":1}`, nil)
	rep.set(func(r *fakeReplica) { r.readErr = fmt.Errorf("%w: partitioned", ErrNoLeader) })
	code, e, _, hdr := apiCall(t, h, "GET", "/v1/ledger/accounts/alice", "")
	if code != 503 || e.Code != client.CodeNoLeader || hdr.Get("Retry-After") == "" {
		t.Errorf("linearizable read without a leader: %d %q Retry-After %q; want 503 no_leader with Retry-After", code, e.Code, hdr.Get("Retry-After"))
	}
	var a client.Account
	mustOK(t, h, "GET", "/v1/ledger/accounts/alice?consistency=stale", "", &a)
	if a.Balance != 1 {
		t.Errorf("stale read = %+v", a)
	}
	if rep.barriers != 1 {
		t.Errorf("read barriers = %d, want 1 (the stale read must not ask for one)", rep.barriers)
	}
}

func TestLedgerWritesWithoutALeaderAreRetryable(t *testing.T) {
	h, rep := newLedgerServer(t)
	rep.set(func(r *fakeReplica) { r.applyErr = fmt.Errorf("%w: no leader known", ErrNoLeader) })
	code, e, _, hdr := apiCall(t, h, "POST", "/v1/ledger/deposit", `{"account":"alice","amount":1}`)
	if code != 503 || e.Code != client.CodeNoLeader || hdr.Get("Retry-After") != "1" {
		t.Errorf("write without a leader: %d %q Retry-After %q", code, e.Code, hdr.Get("Retry-After"))
	}
	rep.set(func(r *fakeReplica) { r.applyErr = fmt.Errorf("%w: leadership lost", ErrOutcomeUnknown) })
	code, e, _, _ = apiCall(t, h, "POST", "/v1/ledger/deposit", `{"account":"alice","amount":1}`)
	if code != 503 || e.Code != client.CodeOutcomeUnknown {
		t.Errorf("write with unknown outcome: %d %q", code, e.Code)
	}
}

func TestBoundedReadsCarryTheirBoundsToTheReplica(t *testing.T) {
	h, rep := newLedgerServer(t)
	mustOK(t, h, "POST", "/v1/ledger/deposit", `{"account":"alice","amount":1}`, nil)
	mustOK(t, h, "GET", "/v1/ledger/accounts/alice?consistency=bounded", "", nil)
	mustOK(t, h, "GET", "/v1/ledger/audit?consistency=bounded&max_entries=5&max_lag=250ms", "", nil)
	want := []ReadLevel{{Bounded: true, MaxEntries: defaultMaxEntries}, {Bounded: true, MaxEntries: 5, MaxLag: 250 * time.Millisecond}}
	if fmt.Sprint(rep.levels) != fmt.Sprint(want) {
		t.Errorf("read levels = %+v, want %+v", rep.levels, want)
	}
	for _, q := range []string{"max_entries=-1", "max_entries=x", "max_lag=soon", "max_lag=-1s"} {
		if code, e, _, _ := apiCall(t, h, "GET", "/v1/ledger/audit?consistency=bounded&"+q, ""); code != 400 || e.Code != client.CodeInvalidArgument {
			t.Errorf("%s: %d %q, want 400 invalid_argument", q, code, e.Code)
		}
	}
	rep.set(func(r *fakeReplica) { r.readErr = fmt.Errorf("%w: 5000 entries behind", ErrTooStale) })
	if code, e, _, hdr := apiCall(t, h, "GET", "/v1/ledger/audit?consistency=bounded", ""); code != 503 || e.Code != client.CodeTooStale || hdr.Get("Retry-After") == "" {
		t.Errorf("too stale: %d %q, want 503 too_stale with Retry-After", code, e.Code)
	}
}
