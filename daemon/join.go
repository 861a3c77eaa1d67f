package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/raft"
	"github.com/mandate-raft/mandate/wire"
)

// joinTimeout bounds how long a new node keeps asking to be admitted.
const joinTimeout = time.Minute

// joinCluster asks the running cluster at addrs (HTTP addresses of members;
// the leader among them is found by status) to add this node as a voter.
// It first tells the transport where the current members are, so that the
// node can answer the leader's first messages before it has a
// configuration of its own. Transient errors are retried.
func joinCluster(node *raft.Node, addrs []string, id, raftAddr string, log hclog.Logger) error {
	c, err := client.New(addrs)
	if err != nil {
		return fmt.Errorf("daemon: join: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	for {
		err := joinOnce(ctx, c, node, id, raftAddr)
		if err == nil {
			log.Info("joined the cluster", "via", addrs)
			return nil
		}
		if !client.IsRetryable(err) {
			return fmt.Errorf("daemon: join through %v: %w", addrs, err)
		}
		log.Warn("join failed; retrying", "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("daemon: join through %v: gave up after %s: %w", addrs, joinTimeout, err)
		case <-time.After(time.Second):
		}
	}
}

func joinOnce(ctx context.Context, c *client.Client, node *raft.Node, id, raftAddr string) error {
	m, err := c.Members(ctx)
	if err != nil {
		return err
	}
	var peers []wire.Server
	for _, s := range m.Members {
		peers = append(peers, wire.Server{ID: wire.NodeID(s.ID), Address: s.Address})
	}
	if err := node.SetPeers(ctx, peers...); err != nil {
		return fmt.Errorf("tell the transport about the members: %w", err)
	}
	_, err = c.AddMember(ctx, client.AddMemberRequest{ID: id, Address: raftAddr, Role: "voter"})
	return err
}
