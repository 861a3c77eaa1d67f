package daemon

import (
	"net/http"
	"strconv"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/examples/ledger"
	"github.com/mandate-raft/mandate/fsm/session"
)

// ledgerService serves /v1/ledger/* over an examples/ledger FSM.
type ledgerService struct {
	l *ledger.Ledger
	// applied reports the replica's applied index for audits.
	applied func() uint64
}

// NewLedgerService serves the ledger routes over l, the FSM instance the
// node applies commands to (reads go to it directly, after a read barrier
// unless the request asks for a stale read). applied, when not nil,
// reports the node's applied index, shown in audits.
func NewLedgerService(l *ledger.Ledger, applied func() uint64) Service {
	return &ledgerService{l: l, applied: applied}
}

// Name implements Service.
func (l *ledgerService) Name() string { return "ledger" }

func (l *ledgerService) errorMappings() []errorMapping {
	return []errorMapping{
		{ledger.ErrInsufficientFunds, http.StatusConflict, client.CodeInsufficientFunds},
		{ledger.ErrOverflow, http.StatusConflict, client.CodeOverflow},
		{ledger.ErrUnknownAccount, http.StatusNotFound, client.CodeUnknownAccount},
		{ledger.ErrInvalidAmount, http.StatusBadRequest, client.CodeInvalidArgument},
		{ledger.ErrInvalidAccount, http.StatusBadRequest, client.CodeInvalidArgument},
		{ledger.ErrSameAccount, http.StatusBadRequest, client.CodeInvalidArgument},
		{ledger.ErrBadCommand, http.StatusBadRequest, client.CodeInvalidArgument},
		{session.ErrBadEnvelope, http.StatusBadRequest, client.CodeInvalidArgument},
		{session.ErrSessionExpired, http.StatusConflict, client.CodeRequestConflict},
		{session.ErrStaleSequence, http.StatusConflict, client.CodeRequestConflict},
		{session.ErrTooManyPending, http.StatusConflict, client.CodeRequestConflict},
	}
}

// receiptBalances reports a write's new balances: accounts[0] gets the
// receipt's Balance, accounts[1] (a transfer's destination) its ToBalance.
func receiptBalances(v any, accounts ...string) map[string]int64 {
	rc, ok := v.(ledger.Receipt)
	if !ok {
		return nil
	}
	out := map[string]int64{accounts[0]: rc.Balance}
	if len(accounts) > 1 {
		out[accounts[1]] = rc.ToBalance
	}
	return out
}

const (
	defaultPageSize = ledger.DefaultPageSize
	maxPageSize     = ledger.MaxPageSize
)

func (l *ledgerService) routes(s *Server) []route {
	// write proposes the command decode builds (wrapped in a one-request
	// session named by the request id, so a retry is applied once).
	write := func(decode func(w http.ResponseWriter, r *http.Request) (string, ledger.Command, []string, error)) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			reqID, cmd, accounts, err := decode(w, r)
			if err != nil {
				return err
			}
			a, err := s.apply(r, ledger.Request(reqID, cmd))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, client.WriteResponse{RequestID: reqID, Index: a.Index, Balances: receiptBalances(a.Result.Value, accounts...)})
			return nil
		}
	}
	return []route{
		{"POST /v1/ledger/deposit", write(func(w http.ResponseWriter, r *http.Request) (string, ledger.Command, []string, error) {
			var req client.DepositRequest
			if err := decodeBody(w, r, &req); err != nil {
				return "", nil, nil, err
			}
			if err := checkWrite(&req.RequestID, req.Amount, "account", req.Account); err != nil {
				return "", nil, nil, err
			}
			return req.RequestID, ledger.Deposit{Account: req.Account, Amount: req.Amount}, []string{req.Account}, nil
		})},
		{"POST /v1/ledger/withdraw", write(func(w http.ResponseWriter, r *http.Request) (string, ledger.Command, []string, error) {
			var req client.WithdrawRequest
			if err := decodeBody(w, r, &req); err != nil {
				return "", nil, nil, err
			}
			if err := checkWrite(&req.RequestID, req.Amount, "account", req.Account); err != nil {
				return "", nil, nil, err
			}
			return req.RequestID, ledger.Withdraw{Account: req.Account, Amount: req.Amount}, []string{req.Account}, nil
		})},
		{"POST /v1/ledger/transfer", write(func(w http.ResponseWriter, r *http.Request) (string, ledger.Command, []string, error) {
			var req client.TransferRequest
			if err := decodeBody(w, r, &req); err != nil {
				return "", nil, nil, err
			}
			if err := checkWrite(&req.RequestID, req.Amount, "from", req.From, "to", req.To); err != nil {
				return "", nil, nil, err
			}
			if req.From == req.To {
				return "", nil, nil, badRequest("from and to are the same account %q", req.From)
			}
			return req.RequestID, ledger.Transfer{From: req.From, To: req.To, Amount: req.Amount}, []string{req.From, req.To}, nil
		})},
		{"GET /v1/ledger/accounts/{id}", func(w http.ResponseWriter, r *http.Request) error {
			id := r.PathValue("id")
			if err := ledger.ValidAccount(id); err != nil {
				return badRequest("account id: %v", err)
			}
			if err := s.readBarrier(r); err != nil {
				return err
			}
			bal, err := l.l.Balance(id)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, client.Account{ID: id, Balance: bal})
			return nil
		}},
		{"GET /v1/ledger/accounts", func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query()
			limit := defaultPageSize
			if v := q.Get("limit"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 || n > maxPageSize {
					return badRequest("limit must be an integer from 1 to %d, not %q", maxPageSize, v)
				}
				limit = n
			}
			after := q.Get("after")
			if len(after) > maxIDLen {
				return badRequest("after is %d bytes long; account ids have at most %d", len(after), maxIDLen)
			}
			if err := s.readBarrier(r); err != nil {
				return err
			}
			page := l.l.Accounts(after, limit)
			resp := client.AccountsResponse{Accounts: make([]client.Account, 0, len(page))}
			for _, a := range page {
				resp.Accounts = append(resp.Accounts, client.Account{ID: a.ID, Balance: a.Balance})
			}
			// A full page may have a successor; an empty or short one is
			// the end.
			if len(page) == limit {
				resp.Next = page[len(page)-1].ID
			}
			writeJSON(w, http.StatusOK, resp)
			return nil
		}},
		{"GET /v1/ledger/audit", func(w http.ResponseWriter, r *http.Request) error {
			if err := s.readBarrier(r); err != nil {
				return err
			}
			la := l.l.Audit()
			a := client.Audit{Accounts: int64(la.Accounts), Total: la.Total, Deposited: la.Deposited, Withdrawn: la.Withdrawn, Reconciles: la.Reconciles()}
			if l.applied != nil {
				a.AppliedIndex = l.applied()
			}
			writeJSON(w, http.StatusOK, a)
			return nil
		}},
	}
}

// checkWrite validates what every ledger write shares: a positive amount,
// valid account ids, and a request id (one is generated when missing, so
// the write is still exactly-once within this call).
func checkWrite(requestID *string, amount int64, accounts ...string) error {
	if *requestID == "" {
		*requestID = client.NewRequestID()
	} else if err := validName("request_id", *requestID); err != nil {
		return err
	}
	if amount <= 0 {
		return badRequest("amount must be a positive integer of minor units, not %d", amount)
	}
	for i := 0; i+1 < len(accounts); i += 2 {
		if err := ledger.ValidAccount(accounts[i+1]); err != nil {
			return badRequest("%s: %v", accounts[i], err)
		}
	}
	return nil
}
