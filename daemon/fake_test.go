package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/wire"
)

// fakeReplica is a single-node Replica that applies commands to an FSM at
// once, with errors a test can inject. It stands in for a Raft node so that
// the API's own behaviour is tested in isolation.
type fakeReplica struct {
	mu        sync.Mutex
	f         fsm.FSM
	index     uint64
	applyErr  error // returned by Apply instead of applying
	readErr   error // returned by ReadBarrier
	memberErr error // returned by membership changes
	leader    wire.NodeID
	stopped   bool
	conf      wire.Configuration
	barriers  int
	levels    []ReadLevel
	added     []wire.Server
	removed   []wire.NodeID
}

func newFakeReplica(f fsm.FSM) *fakeReplica {
	return &fakeReplica{f: f, leader: "n1", conf: wire.Configuration{Servers: []wire.Server{
		{ID: "n1", Address: "127.0.0.1:7001"}, {ID: "n2", Address: "127.0.0.1:7002"}, {ID: "n3", Address: "127.0.0.1:7003", Role: wire.Learner},
	}}}
}

func (r *fakeReplica) set(fn func(r *fakeReplica)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

func (r *fakeReplica) Apply(ctx context.Context, cmd []byte) (Applied, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applyErr != nil {
		return Applied{}, r.applyErr
	}
	r.index++
	res := r.f.Apply(fsm.Command{Index: r.index, Term: 1, Time: time.Unix(1_700_000_000, 0).Add(time.Duration(r.index) * time.Second), Data: cmd})
	return Applied{Index: r.index, Term: 1, Result: res}, nil
}

func (r *fakeReplica) ReadBarrier(ctx context.Context, l ReadLevel) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.barriers++
	r.levels = append(r.levels, l)
	return r.readErr
}

func (r *fakeReplica) Status() ReplicaStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := "Leader"
	if r.stopped {
		state = "Shutdown"
	}
	return ReplicaStatus{ID: "n1", State: state, Term: 1, Leader: r.leader, LeaderAddress: "127.0.0.1:7001",
		Commit: r.index, Applied: r.index, LastIndex: r.index, Config: r.conf.Clone(), Stopped: r.stopped}
}

func (r *fakeReplica) AddServer(ctx context.Context, s wire.Server) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.memberErr != nil {
		return r.memberErr
	}
	r.added = append(r.added, s)
	r.conf.Servers = append(r.conf.Servers, s)
	return nil
}

func (r *fakeReplica) RemoveServer(ctx context.Context, id wire.NodeID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.memberErr != nil {
		return r.memberErr
	}
	if _, ok := r.conf.Server(id); !ok {
		return ErrUnknownMember
	}
	r.removed = append(r.removed, id)
	return nil
}

func (r *fakeReplica) TransferLeadership(ctx context.Context, to wire.NodeID) (wire.NodeID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.memberErr != nil {
		return wire.None, r.memberErr
	}
	if to == wire.None {
		to = "n2"
	}
	r.leader = to
	return to, nil
}

func (r *fakeReplica) Snapshot(ctx context.Context) (wire.SnapshotMeta, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return wire.SnapshotMeta{Index: r.index, Term: 1}, nil
}
