package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
)

// NewRequestID returns a random request id (128 bits, hex) for a ledger
// write. Reuse it for every retry of the same write.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Deposit credits an account. An empty RequestID is filled in with a new
// one, which is returned in the response.
func (c *Client) Deposit(ctx context.Context, req DepositRequest) (WriteResponse, error) {
	if req.RequestID == "" {
		req.RequestID = NewRequestID()
	}
	var r WriteResponse
	err := c.do(ctx, http.MethodPost, "/v1/ledger/deposit", nil, idempotent{req.RequestID, req}, &r)
	return r, err
}

// Withdraw debits an account. An empty RequestID is filled in.
func (c *Client) Withdraw(ctx context.Context, req WithdrawRequest) (WriteResponse, error) {
	if req.RequestID == "" {
		req.RequestID = NewRequestID()
	}
	var r WriteResponse
	err := c.do(ctx, http.MethodPost, "/v1/ledger/withdraw", nil, idempotent{req.RequestID, req}, &r)
	return r, err
}

// Transfer moves money between two accounts. An empty RequestID is filled
// in.
func (c *Client) Transfer(ctx context.Context, req TransferRequest) (WriteResponse, error) {
	if req.RequestID == "" {
		req.RequestID = NewRequestID()
	}
	var r WriteResponse
	err := c.do(ctx, http.MethodPost, "/v1/ledger/transfer", nil, idempotent{req.RequestID, req}, &r)
	return r, err
}

// Balance returns one account.
func (c *Client) Balance(ctx context.Context, id string, cons Consistency) (Account, error) {
	var a Account
	err := c.do(ctx, http.MethodGet, "/v1/ledger/accounts/"+url.PathEscape(id), consistencyQuery(cons), nil, &a)
	return a, err
}

// Accounts returns up to limit accounts with ids after `after`, in id
// order (limit 0 means the server's default page size).
func (c *Client) Accounts(ctx context.Context, after string, limit int, cons Consistency) (AccountsResponse, error) {
	q := consistencyQuery(cons)
	if q == nil {
		q = url.Values{}
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var r AccountsResponse
	err := c.do(ctx, http.MethodGet, "/v1/ledger/accounts", q, nil, &r)
	return r, err
}

// AllAccounts pages through every account.
func (c *Client) AllAccounts(ctx context.Context, cons Consistency) ([]Account, error) {
	var out []Account
	after := ""
	for {
		page, err := c.Accounts(ctx, after, 1000, cons)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Accounts...)
		if page.Next == "" {
			return out, nil
		}
		after = page.Next
	}
}

// Audit returns the ledger's reconciliation summary.
func (c *Client) Audit(ctx context.Context, cons Consistency) (Audit, error) {
	var a Audit
	err := c.do(ctx, http.MethodGet, "/v1/ledger/audit", consistencyQuery(cons), nil, &a)
	return a, err
}

func consistencyQuery(cons Consistency) url.Values {
	if cons == Linearizable {
		return nil
	}
	return url.Values{"consistency": []string{string(cons)}}
}
