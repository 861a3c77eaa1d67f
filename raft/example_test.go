package raft_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/raft"
	snapmem "github.com/mandate-raft/mandate/snapshot/memory"
	"github.com/mandate-raft/mandate/transport/inmem"
	"github.com/mandate-raft/mandate/wire"
)

// counter is a tiny FSM: each command adds its number to a total, and the
// result of a command is the new total.
type counter struct {
	mu    sync.Mutex
	total int
}

func (c *counter) Apply(cmd fsm.Command) fsm.Result {
	n, err := strconv.Atoi(string(cmd.Data))
	if err != nil {
		// The command's own verdict: committed, but refused by the FSM,
		// identically on every replica.
		return fsm.Result{Err: fmt.Errorf("not a number: %q", cmd.Data)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += n
	return fsm.Result{Value: c.total}
}

func (c *counter) Snapshot() (fsm.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return counterSnapshot(c.total), nil
}

func (c *counter) Restore(r io.Reader) error {
	var total int
	if err := json.NewDecoder(r).Decode(&total); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total = total
	return nil
}

// counterSnapshot is an immutable copy, so Persist may run while Apply
// goes on.
type counterSnapshot int

func (s counterSnapshot) Persist(w io.Writer) error { return json.NewEncoder(w).Encode(int(s)) }
func (s counterSnapshot) Release()                  {}

// Example builds a 3-node cluster in one process (in-memory transport and
// stores), and applies commands through a follower and the leader.
func Example() {
	network := inmem.NewNetwork(1)
	conf := wire.Configuration{}
	for _, id := range []string{"n1", "n2", "n3"} {
		conf.Servers = append(conf.Servers, wire.Server{ID: wire.NodeID(id), Address: "addr-" + id})
	}

	var nodes []*raft.Node
	for _, s := range conf.Servers {
		trans, err := network.NewTransport(s.Address)
		if err != nil {
			panic(err)
		}
		defer trans.Close()
		cfg := raft.Config{
			ID:               s.ID,
			HeartbeatTimeout: 50 * time.Millisecond,
			ElectionTimeout:  500 * time.Millisecond,
			Logger:           hclog.NewNullLogger(),
		}
		node, err := raft.NewNode(cfg, &counter{}, memory.New(), snapmem.New(0), trans)
		if err != nil {
			panic(err)
		}
		defer node.Shutdown(context.Background())
		if err := node.Bootstrap(conf); err != nil {
			panic(err)
		}
		nodes = append(nodes, node)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, cmd := range []string{"5", "10", "oops", "27"} {
		// Apply works on any node; retry while no leader is elected yet
		// (a not-committed error is always safe to retry).
		for {
			res, err := nodes[2].Apply(ctx, []byte(cmd))
			if err != nil {
				if ctx.Err() == nil && raft.IsRetryable(err) {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				fmt.Println("error:", err)
				return
			}
			if res.Result.Err != nil {
				fmt.Printf("%s -> refused: %v\n", cmd, res.Result.Err)
			} else {
				fmt.Printf("%s -> total %v\n", cmd, res.Result.Value)
			}
			break
		}
	}
	// Output:
	// 5 -> total 5
	// 10 -> total 15
	// oops -> refused: not a number: "oops"
	// 27 -> total 42
}
