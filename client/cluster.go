package client

import (
	"context"
	"net/http"
	"net/url"
)

// Status returns the status of the node the client reaches first.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &s)
	return s, err
}

// NodeStatus returns the status of the node at addr specifically, without
// trying other nodes.
func (c *Client) NodeStatus(ctx context.Context, addr string) (Status, error) {
	one, err := New([]string{addr}, WithHTTPClient(c.http))
	if err != nil {
		return Status{}, err
	}
	return one.Status(ctx)
}

// Members returns the cluster's configuration.
func (c *Client) Members(ctx context.Context) (MembersResponse, error) {
	var m MembersResponse
	err := c.do(ctx, http.MethodGet, "/v1/cluster/members", nil, nil, &m)
	return m, err
}

// AddMember adds a server to the cluster (through the leader).
func (c *Client) AddMember(ctx context.Context, req AddMemberRequest) (MembersResponse, error) {
	var m MembersResponse
	err := c.do(ctx, http.MethodPost, "/v1/cluster/members", nil, req, &m)
	return m, err
}

// RemoveMember removes the server id from the cluster.
func (c *Client) RemoveMember(ctx context.Context, id string) (MembersResponse, error) {
	var m MembersResponse
	err := c.do(ctx, http.MethodDelete, "/v1/cluster/members/"+url.PathEscape(id), nil, nil, &m)
	return m, err
}

// TransferLeadership asks the leader to hand over to `to` (the most
// up-to-date other voter when empty) and returns the new leader's id. Only
// the leader serves it, so the client first looks for the node that says
// it leads among the addresses it knows.
func (c *Client) TransferLeadership(ctx context.Context, to string) (TransferLeadershipResponse, error) {
	var r TransferLeadershipResponse
	req := TransferLeadershipRequest{To: to}
	if len(c.addrs) > 1 {
		for _, a := range c.addrs {
			if st, err := c.NodeStatus(ctx, a); err == nil && st.State == "Leader" {
				one, err := New([]string{a}, WithHTTPClient(c.http))
				if err != nil {
					return r, err
				}
				err = one.do(ctx, http.MethodPost, "/v1/cluster/transfer-leadership", nil, req, &r)
				return r, err
			}
		}
	}
	err := c.do(ctx, http.MethodPost, "/v1/cluster/transfer-leadership", nil, req, &r)
	return r, err
}

// Snapshot makes the node the client reaches take a snapshot now.
func (c *Client) Snapshot(ctx context.Context) (SnapshotResponse, error) {
	var r SnapshotResponse
	err := c.do(ctx, http.MethodPost, "/v1/cluster/snapshot", nil, struct{}{}, &r)
	return r, err
}
