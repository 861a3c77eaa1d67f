package raft

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mandate-raft/mandate/wire"
)

// Linearizability of client histories (porcupine): concurrent writes of a
// small key-value store through any node, and reads through leaders and
// followers, under random partitions and leader crashes and restarts.
//
// MANDATE_LIN_HISTORIES=N checks N histories (default 20);
// MANDATE_LIN_SEED=S replays from seed S.

const (
	linKeys          = 3
	linClients       = 4
	linHistoryLength = 300 * time.Millisecond
	linMinOK         = 20 // fewer successful operations before the first fault make a history void
	linCheckTimeout  = 20 * time.Second
)

// kvInput is one client operation of the model.
type kvInput struct {
	key   int
	write bool
	value int // written, for a write
}

// kvModel is a register per key; a read returns 0 for a key never written.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		parts := make([][]porcupine.Operation, linKeys)
		for _, op := range history {
			k := op.Input.(kvInput).key
			parts[k] = append(parts[k], op)
		}
		return parts
	},
	Init: func() any { return 0 },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.write {
			return true, in.value
		}
		return output.(int) == state.(int), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.write {
			return fmt.Sprintf("put(%d, %d)", in.key, in.value)
		}
		return fmt.Sprintf("get(%d) -> %v", in.key, output)
	},
}

// kvValue folds a testFSM's history into the value of key: the value of
// the last write to it.
func kvValue(f *testFSM, key int) int {
	prefix := fmt.Sprintf("put:%d:", key)
	var best uint64
	val := 0
	for idx, cmd := range f.history() {
		if idx > best && strings.HasPrefix(cmd, prefix) {
			v, err := strconv.Atoi(cmd[len(prefix):])
			if err != nil {
				panic(fmt.Sprintf("bad command %q", cmd))
			}
			best, val = idx, v
		}
	}
	return val
}

// linView is the clients' view of the running nodes, which the nemesis
// changes as it crashes and restarts them.
type linView struct {
	mu    sync.Mutex
	nodes map[wire.NodeID]linMember
}

type linMember struct {
	node *Node
	fsm  *testFSM
}

func (v *linView) refresh(c *testCluster) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.nodes = map[wire.NodeID]linMember{}
	for _, id := range c.ids {
		if tn := c.nodes[id]; tn.node != nil {
			v.nodes[id] = linMember{node: tn.node, fsm: tn.fsm}
		}
	}
}

func (v *linView) pick(r *rand.Rand) (linMember, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.nodes) == 0 {
		return linMember{}, false
	}
	i := r.IntN(len(v.nodes))
	for _, m := range v.nodes {
		if i == 0 {
			return m, true
		}
		i--
	}
	return linMember{}, false
}

func linHistories() int {
	if s := os.Getenv("MANDATE_LIN_HISTORIES"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 20
}

func TestLinearizableHistoriesUnderPartitionsAndCrashes(t *testing.T) {
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv("MANDATE_LIN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MANDATE_LIN_SEED: %v", err)
		}
		base = v
	}
	n := linHistories()
	for i := 0; i < n; i++ {
		seed := base + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runLinearizableHistory(t, seed)
		})
	}
}

func runLinearizableHistory(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x6c696e))
	lease := r.IntN(2) == 0
	size := 3
	if r.IntN(3) == 0 {
		size = 5
	}
	c := newTestCluster(t, size, withConfig(func(cfg *Config) { cfg.LeaseReads = lease }))
	c.start(true)
	c.waitLeader()
	var view linView
	view.refresh(c)

	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var (
		mu  sync.Mutex
		ops []porcupine.Operation
		ok  int
	)
	record := func(op porcupine.Operation, succeeded bool) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		if succeeded {
			ok++
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for cl := 0; cl < linClients; cl++ {
		wg.Add(1)
		cr := rand.New(rand.NewPCG(seed, uint64(cl)+1))
		go func(cl int) {
			defer wg.Done()
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				m, found := view.pick(cr)
				if !found {
					time.Sleep(time.Millisecond)
					continue
				}
				key := cr.IntN(linKeys)
				if cr.IntN(2) == 0 {
					linWrite(m, cl, key, cl*1_000_000+seq, now, record)
				} else {
					linRead(m, cl, key, lease && cr.IntN(2) == 0, now, record)
				}
			}
		}(cl)
	}

	// A history whose clients got nothing done before the first fault
	// proves nothing: wait for a healthy start, and call it void if the
	// cluster cannot make one.
	healthy := time.Now().Add(waitDeadline)
	for {
		mu.Lock()
		n := ok
		mu.Unlock()
		if n >= linMinOK {
			break
		}
		if time.Now().After(healthy) {
			close(stop)
			wg.Wait()
			t.Fatalf("seed %d: void history: only %d operations succeeded before the first fault (at least %d needed)", seed, n, linMinOK)
		}
		time.Sleep(time.Millisecond)
	}

	// The nemesis: partitions and crashes, while clients run.
	var crashed []wire.NodeID
	deadline := time.Now().Add(linHistoryLength)
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(20+r.IntN(60)) * time.Millisecond)
		switch r.IntN(6) {
		case 0: // isolate the leader, if any
			if lead := c.leaderAmong(c.running()...); lead != wire.None {
				c.isolate(lead)
			}
		case 1: // isolate a random node
			c.isolate(c.ids[r.IntN(len(c.ids))])
		case 2: // crash the leader, or a random node
			id := c.leaderAmong(c.running()...)
			if id == wire.None {
				id = c.ids[r.IntN(len(c.ids))]
			}
			if c.nodes[id].node != nil && len(crashed) < (size-1)/2 {
				c.stopNode(id)
				crashed = append(crashed, id)
				view.refresh(c)
			}
		case 3: // restart the crashed
			for _, id := range crashed {
				c.startNode(id)
			}
			crashed = crashed[:0]
			view.refresh(c)
		case 4: // split into two random groups
			perm := r.Perm(size)
			k := 1 + r.IntN(size-1)
			var a, b []string
			for i, p := range perm {
				if i < k {
					a = append(a, c.nodes[c.ids[p]].addr)
				} else {
					b = append(b, c.nodes[c.ids[p]].addr)
				}
			}
			c.net.Partition(a, b)
		default: // heal
			c.net.Heal()
		}
	}
	close(stop)
	wg.Wait()
	c.net.Heal()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("seed %d: %d nodes, %d operations, %d succeeded, lease reads %v", seed, size, len(ops), ok, lease)
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, linCheckTimeout)
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Fatalf("seed %d: linearizability check timed out after %v on %d operations: inconclusive", seed, linCheckTimeout, len(ops))
	default:
		path := fmt.Sprintf("%s/lin-%d.html", os.TempDir(), seed)
		if f, err := os.Create(path); err == nil {
			_ = porcupine.Visualize(kvModel, info, f)
			_ = f.Close()
		}
		t.Fatalf("seed %d: history of %d operations (%d succeeded, lease reads %v) is NOT linearizable (%d nodes); visualization in %s; replay with MANDATE_LIN_SEED=%d MANDATE_LIN_HISTORIES=1",
			seed, len(ops), ok, lease, size, path, seed)
	}
}

// linWrite applies put(key, value) through m and records the operation: a
// write whose outcome is unknown may take effect at any later time, so it
// never returns; one definitely not committed is left out.
func linWrite(m linMember, cl, key, value int, now func() int64, record func(porcupine.Operation, bool)) {
	call := now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := m.node.Apply(ctx, []byte(fmt.Sprintf("put:%d:%d", key, value)))
	cancel()
	op := porcupine.Operation{ClientId: cl, Input: kvInput{key: key, write: true, value: value}, Call: call, Output: 0}
	switch {
	case err == nil:
		op.Return = now()
		record(op, true)
	case errors.Is(err, ErrNotCommitted):
	default:
		op.Return = math.MaxInt64
		record(op, false)
	}
}

// linRead reads key through m after a Linearizable (or Lease) Read; a
// failed read is left out.
func linRead(m linMember, cl, key int, lease bool, now func() int64, record func(porcupine.Operation, bool)) {
	call := now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	rc := ReadConsistency{}
	if lease {
		rc.Mode = Lease
	}
	err := m.node.Read(ctx, rc)
	cancel()
	if err != nil {
		return
	}
	v := kvValue(m.fsm, key)
	record(porcupine.Operation{ClientId: cl, Input: kvInput{key: key}, Call: call, Output: v, Return: now()}, true)
}
