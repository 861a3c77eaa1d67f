package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/client"
)

// joinCluster asks the running cluster at addrs (HTTP) to add this node as
// a voter, retrying transient errors for up to a minute.
func joinCluster(addrs []string, id, raftAddr string, log hclog.Logger) error {
	c, err := client.New(addrs)
	if err != nil {
		return fmt.Errorf("daemon: join: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		_, err := c.AddMember(ctx, client.AddMemberRequest{ID: id, Address: raftAddr, Role: "voter"})
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
			return fmt.Errorf("daemon: join through %v: gave up: %w", addrs, err)
		case <-time.After(time.Second):
		}
	}
}
