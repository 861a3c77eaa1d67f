package client

import (
	"context"
	"net/http"
	"net/url"
)

// AcquireLock takes the named lock for req.Owner. A lock held by another
// owner fails with CodeLockHeld, unless req.WaitMillis queues the request
// (then the answer has Queued set).
func (c *Client) AcquireLock(ctx context.Context, name string, req LockAcquireRequest) (Lock, error) {
	var l Lock
	err := c.do(ctx, http.MethodPost, "/v1/locks/"+url.PathEscape(name)+"/acquire", nil, req, &l)
	return l, err
}

// RenewLock extends the holder's lease.
func (c *Client) RenewLock(ctx context.Context, name string, req LockRenewRequest) (Lock, error) {
	var l Lock
	err := c.do(ctx, http.MethodPost, "/v1/locks/"+url.PathEscape(name)+"/renew", nil, req, &l)
	return l, err
}

// ReleaseLock gives the lock up.
func (c *Client) ReleaseLock(ctx context.Context, name string, req LockReleaseRequest) (Lock, error) {
	var l Lock
	err := c.do(ctx, http.MethodPost, "/v1/locks/"+url.PathEscape(name)+"/release", nil, req, &l)
	return l, err
}

// ShowLock returns the lock's state.
func (c *Client) ShowLock(ctx context.Context, name string, cons Consistency) (Lock, error) {
	var l Lock
	err := c.do(ctx, http.MethodGet, "/v1/locks/"+url.PathEscape(name), consistencyQuery(cons), nil, &l)
	return l, err
}
