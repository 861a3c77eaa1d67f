package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/mandate-raft/mandate/fsm"
)

// Counters is the whole state machine: named counters. The command
// "NAME DELTA" adds DELTA to NAME and returns its new value; the query
// "NAME" reads one counter and the empty query all of them.
type Counters struct {
	mu sync.RWMutex // Query runs concurrently with Apply
	n  map[string]int64
}

// Apply implements fsm.FSM.
func (c *Counters) Apply(cmd fsm.Command) fsm.Result {
	name, delta, ok := strings.Cut(string(cmd.Data), " ")
	d, err := strconv.ParseInt(delta, 10, 64)
	if !ok || name == "" || err != nil {
		return fsm.Result{Err: fmt.Errorf("want \"NAME DELTA\", got %q", cmd.Data)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[name] += d
	return fsm.Result{Value: c.n[name]}
}

// Query implements fsm.Querier.
func (c *Counters) Query(q []byte) (any, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(q) == 0 {
		return maps.Clone(c.n), nil
	}
	return c.n[string(q)], nil
}

// Snapshot implements fsm.FSM: a copy, so that Persist may run while
// Apply goes on.
func (c *Counters) Snapshot() (fsm.Snapshot, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return snap(maps.Clone(c.n)), nil
}

// Restore implements fsm.FSM.
func (c *Counters) Restore(r io.Reader) error {
	n := map[string]int64{}
	if err := json.NewDecoder(r).Decode(&n); err != nil {
		return fmt.Errorf("counters: restore: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = n
	return nil
}

type snap map[string]int64

func (s snap) Persist(w io.Writer) error { return json.NewEncoder(w).Encode(map[string]int64(s)) }
func (s snap) Release()                  {}
