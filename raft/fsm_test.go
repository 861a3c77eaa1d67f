package raft

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

// errRejected is the verdict testFSM gives the command "reject".
var errRejected = errors.New("rejected by the FSM")

// testFSM records every command it applies by index. Its result for a
// command is the number of commands applied so far.
type testFSM struct {
	mu   sync.Mutex
	cmds map[uint64]string
	// times holds each applied command's Time (not kept in snapshots).
	times map[uint64]time.Time
	last  uint64
	// batches counts ApplyBatch calls (it is a BatchFSM).
	batches int
}

func newTestFSM() *testFSM {
	return &testFSM{cmds: map[uint64]string{}, times: map[uint64]time.Time{}}
}

func (f *testFSM) Apply(c fsm.Command) fsm.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applyLocked(c)
}

func (f *testFSM) applyLocked(c fsm.Command) fsm.Result {
	if c.Index <= f.last {
		panic("testFSM: index did not increase")
	}
	f.cmds[c.Index] = string(c.Data)
	f.times[c.Index] = c.Time
	f.last = c.Index
	if string(c.Data) == "reject" {
		return fsm.Result{Err: errRejected}
	}
	return fsm.Result{Value: len(f.cmds)}
}

func (f *testFSM) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches++
	out := make([]fsm.Result, len(cmds))
	for i := range cmds {
		out[i] = f.applyLocked(cmds[i])
	}
	return out
}

type testFSMState struct {
	Cmds map[uint64]string
	Last uint64
}

func (f *testFSM) Snapshot() (fsm.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &testSnapshot{state: testFSMState{Cmds: maps.Clone(f.cmds), Last: f.last}}, nil
}

func (f *testFSM) Restore(r io.Reader) error {
	var st testFSMState
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st.Cmds == nil {
		st.Cmds = map[uint64]string{}
	}
	f.cmds, f.last = st.Cmds, st.Last
	return nil
}

func (f *testFSM) history() map[uint64]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.cmds)
}

func (f *testFSM) timeAt(index uint64) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.times[index]
	return t, ok
}

func (f *testFSM) lastIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// contains reports whether cmd was applied at any index.
func (f *testFSM) contains(cmd string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cmds {
		if c == cmd {
			return true
		}
	}
	return false
}

type testSnapshot struct{ state testFSMState }

func (s *testSnapshot) Persist(w io.Writer) error { return json.NewEncoder(w).Encode(s.state) }
func (s *testSnapshot) Release()                  {}
