package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// cluster is the demo's handle on its nodes over HTTP.
type cluster struct {
	nodes  []*node
	hc     *http.Client
	any    *client.Client   // every node, for requests any node serves
	direct []*client.Client // one per node, for per-replica checks

	mu     sync.Mutex
	leader string // last leader seen, for the progress line
}

func newCluster(nodes []*node) *cluster {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	cl := &cluster{nodes: nodes, hc: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.httpAddr)
		c, err := client.New([]string{n.httpAddr}, client.WithHTTPClient(cl.hc))
		if err != nil {
			panic(fmt.Sprintf("demo: client for generated address %q: %v", n.httpAddr, err))
		}
		cl.direct = append(cl.direct, c)
	}
	c, err := client.New(addrs, client.WithHTTPClient(cl.hc))
	if err != nil {
		panic(fmt.Sprintf("demo: client for generated addresses %v: %v", addrs, err))
	}
	cl.any = c
	return cl
}

// clientFrom returns a client of every node that tries node i first, so
// that concurrent workers spread over the cluster.
func (cl *cluster) clientFrom(i int) *client.Client {
	var addrs []string
	for k := range cl.nodes {
		addrs = append(addrs, cl.nodes[(i+k)%len(cl.nodes)].httpAddr)
	}
	c, err := client.New(addrs, client.WithHTTPClient(cl.hc))
	if err != nil {
		panic(fmt.Sprintf("demo: client for generated addresses %v: %v", addrs, err))
	}
	return c
}

func (cl *cluster) close() { cl.hc.CloseIdleConnections() }

// unexpectedExit reports a node that died without the demo killing it.
func (cl *cluster) unexpectedExit() error {
	for _, n := range cl.nodes {
		if err := n.unexpectedExit(); err != nil {
			return err
		}
	}
	return nil
}

// statuses asks every running node for its status; nodes that do not
// answer are left out.
func (cl *cluster) statuses(ctx context.Context) map[string]client.Status {
	out := map[string]client.Status{}
	for i, n := range cl.nodes {
		if !n.running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		s, err := cl.direct[i].Status(sctx)
		cancel()
		if err == nil {
			out[n.id] = s
		}
	}
	return out
}

// waitLeader waits until a running node says it leads and every other
// running node that answers agrees, and returns that node.
func (cl *cluster) waitLeader(ctx context.Context, timeout time.Duration) (*node, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if err := cl.unexpectedExit(); err != nil {
			return nil, err
		}
		st := cl.statuses(ctx)
		for id, s := range st {
			if s.State != "Leader" {
				continue
			}
			agree := true
			for _, o := range st {
				if o.LeaderID != id {
					agree = false
				}
			}
			if agree {
				cl.setLeader(id)
				return cl.byID(id), nil
			}
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("no leader agreed on within %s (statuses: %+v)", timeout, st)
			}
			return nil, err
		}
	}
}

// waitConverged waits until every node runs and has applied everything
// the leader has committed, and the commit index stopped moving.
func (cl *cluster) waitConverged(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last map[string]client.Status
	for {
		if err := cl.unexpectedExit(); err != nil {
			return err
		}
		st := cl.statuses(ctx)
		if len(st) == len(cl.nodes) && converged(st) {
			return nil
		}
		last = st
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("replicas did not converge within %s: %s", timeout, describe(last))
			}
			return err
		}
	}
}

func converged(st map[string]client.Status) bool {
	var commit uint64
	for _, s := range st {
		if s.State == "Leader" {
			commit = s.CommitIndex
		}
	}
	if commit == 0 {
		return false
	}
	for _, s := range st {
		if s.AppliedIndex != commit {
			return false
		}
	}
	return true
}

func describe(st map[string]client.Status) string {
	s := ""
	for id, x := range st {
		s += fmt.Sprintf("[%s %s term %d commit %d applied %d] ", id, x.State, x.Term, x.CommitIndex, x.AppliedIndex)
	}
	if s == "" {
		return "no node answered"
	}
	return s
}

func (cl *cluster) byID(id string) *node {
	for _, n := range cl.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

func (cl *cluster) setLeader(id string) {
	cl.mu.Lock()
	cl.leader = id
	cl.mu.Unlock()
}

// knownLeader returns the last leader seen (by waitLeader or a worker).
func (cl *cluster) knownLeader() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.leader
}

// refreshLeader records the leader the running nodes report, if any.
func (cl *cluster) refreshLeader(ctx context.Context) {
	for id, s := range cl.statuses(ctx) {
		if s.State == "Leader" {
			cl.setLeader(id)
			return
		}
	}
	cl.setLeader("")
}
