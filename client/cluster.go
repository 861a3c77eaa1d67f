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

// AddMember adds a server to the cluster. Only the leader serves it; see
// TransferLeadership for how the client finds it. A voter is added as a
// learner first and promoted once it caught up.
func (c *Client) AddMember(ctx context.Context, req AddMemberRequest) (MembersResponse, error) {
	var m MembersResponse
	err := c.doOnLeader(ctx, http.MethodPost, "/v1/cluster/members", req, &m)
	return m, err
}

// RemoveMember removes the server id from the cluster (through the
// leader).
func (c *Client) RemoveMember(ctx context.Context, id string) (MembersResponse, error) {
	var m MembersResponse
	err := c.doOnLeader(ctx, http.MethodDelete, "/v1/cluster/members/"+url.PathEscape(id), nil, &m)
	return m, err
}

// TransferLeadership asks the leader to hand over to `to` (the most
// up-to-date other voter when empty) and returns the new leader's id.
func (c *Client) TransferLeadership(ctx context.Context, to string) (TransferLeadershipResponse, error) {
	var r TransferLeadershipResponse
	err := c.doOnLeader(ctx, http.MethodPost, "/v1/cluster/transfer-leadership", TransferLeadershipRequest{To: to}, &r)
	return r, err
}

// doOnLeader sends a request only the leader serves: to the node that says
// it leads among the known addresses when there are several, else to the
// first reachable one (which answers CodeNotLeader if it does not lead).
func (c *Client) doOnLeader(ctx context.Context, method, path string, in, out any) error {
	if len(c.addrs) > 1 {
		for _, a := range c.addrs {
			if st, err := c.NodeStatus(ctx, a); err == nil && st.State == "Leader" {
				one, err := New([]string{a}, WithHTTPClient(c.http))
				if err != nil {
					return err
				}
				return one.do(ctx, method, path, nil, in, out)
			}
		}
	}
	return c.do(ctx, method, path, nil, in, out)
}

// Snapshot makes the node the client reaches take a snapshot now.
func (c *Client) Snapshot(ctx context.Context) (SnapshotResponse, error) {
	var r SnapshotResponse
	err := c.do(ctx, http.MethodPost, "/v1/cluster/snapshot", nil, struct{}{}, &r)
	return r, err
}
