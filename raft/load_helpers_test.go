package raft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/wire"
)

// startWith starts node id of c with FSM f instead of a fresh testFSM;
// rec is the testFSM that records what f applies (f itself, or the FSM f
// wraps), which the cluster's waits and checks read.
func (c *testCluster) startWith(id wire.NodeID, f fsm.FSM, rec *testFSM) *Node {
	c.t.Helper()
	tn := c.nodes[id]
	if tn.node != nil {
		c.t.Fatalf("%s is already running", id)
	}
	tr, err := c.net.NewTransport(tn.addr)
	if err != nil {
		c.t.Fatalf("transport for %s: %v", id, err)
	}
	n, err := NewNode(c.config(id), f, tn.store, tn.snaps, tr)
	if err != nil {
		_ = tr.Close()
		c.t.Fatalf("start %s: %v", id, err)
	}
	tn.trans, tn.fsm, tn.node = tr, rec, n
	return n
}

// load applies unique commands from several goroutines through whichever
// node leads, until stopped. It records every command whose Apply
// returned nil (acknowledged) and every command it sent at all.
type load struct {
	c      *testCluster
	prefix string
	acks   ackLog
	stopc  chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	nodes []*Node
	sent  []string
	ok    int
}

// startLoad starts workers goroutines applying commands named
// prefix-<worker>-<n>.
func (c *testCluster) startLoad(prefix string, workers int) *load {
	l := &load{c: c, prefix: prefix, stopc: make(chan struct{})}
	l.refresh()
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go l.run(w)
	}
	return l
}

func (l *load) run(w int) {
	defer l.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-l.stopc:
			return
		default:
		}
		lead := l.currentLeader()
		if lead == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		cmd := fmt.Sprintf("%s-%d-%d", l.prefix, w, i)
		l.mu.Lock()
		l.sent = append(l.sent, cmd)
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		res, err := lead.Apply(ctx, []byte(cmd))
		cancel()
		if err == nil {
			l.acks.add(cmd, res.Index)
			l.mu.Lock()
			l.ok++
			l.mu.Unlock()
		} else if errors.Is(err, ErrShutdown) || !IsRetryable(err) {
			time.Sleep(time.Millisecond)
		}
	}
}

// currentLeader returns a node of the load's view that believes it
// leads, or nil.
func (l *load) currentLeader() *Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.nodes {
		if n.State() == Leader {
			return n
		}
	}
	return nil
}

// refresh copies the cluster's running nodes into the load's view; the
// test goroutine calls it after starting or stopping nodes (the workers
// never read the cluster's table, which the test goroutine changes).
func (l *load) refresh() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nodes = l.nodes[:0]
	for _, id := range l.c.ids {
		if n := l.c.nodes[id].node; n != nil {
			l.nodes = append(l.nodes, n)
		}
	}
}

// acked returns how many commands were acknowledged so far.
func (l *load) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok
}

// waitMore waits until k more commands than now are acknowledged.
func (l *load) waitMore(t *testing.T, k int) {
	t.Helper()
	target := l.acked() + k
	waitFor(t, fmt.Sprintf("%d acknowledged writes", target), func() bool { return l.acked() >= target })
}

func (l *load) stop() {
	close(l.stopc)
	l.wg.Wait()
}

// checkExactlyOnce fails unless, on every node of ids, every acknowledged
// command is at its index and every command sent appears at most once.
func (l *load) checkExactlyOnce(t *testing.T, ids ...wire.NodeID) {
	t.Helper()
	l.mu.Lock()
	sent := append([]string(nil), l.sent...)
	l.mu.Unlock()
	for _, id := range ids {
		f := l.c.nodes[id].fsm
		l.acks.checkPresent(t, id, f)
		count := map[string]int{}
		for _, cmd := range f.history() {
			count[cmd]++
		}
		for _, cmd := range sent {
			if count[cmd] > 1 {
				t.Fatalf("%s applied %q %d times", id, cmd, count[cmd])
			}
		}
	}
}
