// Package client is a Go client of the Mandate daemon's HTTP/JSON API.
//
// A Client knows one or more node addresses. Any node serves any request:
// followers forward writes to the leader, and linearizable reads are
// confirmed with the cluster by whichever node serves them. When a node
// cannot be reached the client moves on to the next address; it never
// resends a request that may have been received (except through the
// caller's own retry, which ledger request ids make safe).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoResponse is wrapped by the error returned when a request was sent
// but no answer came back (the node died or the connection broke): the
// operation may or may not have happened.
var ErrNoResponse = errors.New("client: request sent but no response")

// maxResponseBytes bounds how much of a response body the client reads.
const maxResponseBytes = 16 << 20

// Client talks to a Mandate cluster over HTTP. It is safe for concurrent
// use.
type Client struct {
	addrs []string
	http  *http.Client

	mu   sync.Mutex
	next int // index into addrs of the node to try first
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client use hc (for timeouts, TLS, transports).
// The default is an http.Client with a 30 s timeout (longer than the
// daemon's own 10 s bound on a write, so that a slow write is answered
// outcome_unknown rather than cut off) and keep-alive connections.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a Client of the nodes at addrs ("host:port" or
// "http://host:port"). At least one address is required.
func New(addrs []string, opts ...Option) (*Client, error) {
	c := &Client{}
	for _, a := range addrs {
		for _, part := range strings.Split(a, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if !strings.Contains(part, "://") {
				part = "http://" + part
			}
			u, err := url.Parse(part)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("client: bad node address %q", part)
			}
			c.addrs = append(c.addrs, strings.TrimRight(part, "/"))
		}
	}
	if len(c.addrs) == 0 {
		return nil, errors.New("client: no node address given")
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 512
		c.http = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	return c, nil
}

// Addrs returns the node addresses the client knows, as URLs.
func (c *Client) Addrs() []string { return append([]string(nil), c.addrs...) }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// do sends one request and decodes a 2xx JSON answer into out (when not
// nil). It tries the known nodes in turn, starting with the last one that
// answered, and moves on only when a node refused the connection, so a
// request is never delivered twice by the client itself.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	key := ""
	if k, ok := in.(idempotent); ok {
		key, in = k.key, k.body
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: encode request: %w", err)
		}
	}
	c.mu.Lock()
	first := c.next
	c.mu.Unlock()
	var errs []error
	for i := range c.addrs {
		idx := (first + i) % len(c.addrs)
		err := c.doOne(ctx, c.addrs[idx], method, path, query, body, key, out)
		if err == nil || !isDialError(err) {
			if err == nil || errors.As(err, new(*APIError)) {
				c.mu.Lock()
				c.next = idx
				c.mu.Unlock()
			}
			return err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	// Start with another node next time.
	c.mu.Lock()
	c.next = (first + 1) % len(c.addrs)
	c.mu.Unlock()
	return fmt.Errorf("%w: %w", ErrUnreachable, errors.Join(errs...))
}

func (c *Client) doOne(ctx context.Context, base, method, path string, query url.Values, body []byte, key string, out any) error {
	u := base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("client: build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if key != "" {
		// Marks the request as safe to resend, so net/http retries it on a
		// fresh connection when a pooled one turns out dead (a restarted
		// node) before anything was written.
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if isDialError(err) {
			return &dialError{addr: base, err: err}
		}
		return fmt.Errorf("%w: %s %s on %s: %w", ErrNoResponse, method, path, base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w: %s %s on %s: reading the answer: %w", ErrNoResponse, method, path, base, err)
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(resp, data, base)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: decode answer of %s %s from %s: %w", method, path, base, err)
	}
	return nil
}

func decodeError(resp *http.Response, data []byte, node string) error {
	ae := &APIError{Status: resp.StatusCode, Node: node}
	var eb ErrorBody
	if err := json.Unmarshal(data, &eb); err == nil && eb.Error.Code != "" {
		ae.Code, ae.Message = eb.Error.Code, eb.Error.Message
	} else {
		ae.Code = fmt.Sprintf("http_%d", resp.StatusCode)
		ae.Message = strings.TrimSpace(string(data))
		if ae.Message == "" {
			ae.Message = http.StatusText(resp.StatusCode)
		}
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			ae.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return ae
}

type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return fmt.Sprintf("cannot reach %s: %v", e.addr, e.err) }
func (e *dialError) Unwrap() error { return e.err }

// isDialError reports whether err happened before the request could have
// reached the server: the connection was never established.
func isDialError(err error) bool {
	var de *dialError
	if errors.As(err, &de) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// idempotent is a request body whose write carries a request id: the
// server applies it once however often it arrives.
type idempotent struct {
	key  string
	body any
}
