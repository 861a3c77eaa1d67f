package raft

import (
	"context"
	"sync"
	"testing"

	"github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/wire"
)

// orderLog records, in order, the hard states stored and the messages
// sent by the storage stage.
type orderLog struct {
	mu     sync.Mutex
	events []string
}

func (l *orderLog) add(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

type orderStore struct {
	*memory.Store
	log *orderLog
}

func (s orderStore) SetHardState(hs wire.HardState) error {
	s.log.add("store-hard-state")
	return s.Store.SetHardState(hs)
}

type orderTransport struct {
	transport.Transport // only Send is used
	log                 *orderLog
}

func (t orderTransport) Send(m wire.Message) { t.log.add("send-" + m.Type.String()) }

// persistNode is just enough of a Node for the storage stage's write.
func persistNode(t *testing.T, stored wire.HardState) (*Node, *orderLog) {
	t.Helper()
	log := &orderLog{}
	store := orderStore{memory.New(), log}
	storage, err := newLogStorage(store, wire.SnapshotMeta{})
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{id: "n1", store: store, storage: storage, trans: orderTransport{log: log},
		cfg: Config{Clock: SystemClock{}}, localc: make(chan func(), 8), ctx: context.Background(), stopc: make(chan struct{})}
	n.persistHS.Store(&stored)
	return n, log
}

// A term or vote change is stored before the messages that depend on it
// leave; a change of the commit index alone is stored after the
// acknowledgements are sent, so that it adds no write to their path.
func TestStorageStageStoresCommitOnlyHardStateAfterTheAcknowledgements(t *testing.T) {
	ents := []wire.Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}}
	ack := wire.Message{Type: wire.MsgAppResp, From: "n1", To: "n2", Term: 1, Index: 2}

	n, log := persistNode(t, wire.HardState{Term: 1, Vote: "n2"})
	p := persister{n: n}
	err := p.write([]persistItem{{entries: ents, hs: wire.HardState{Term: 1, Vote: "n2", Commit: 2}, messages: []wire.Message{ack}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.events; len(got) != 2 || got[0] != "send-MsgAppResp" || got[1] != "store-hard-state" {
		t.Fatalf("commit-only change: events %v, want the acknowledgement sent, then the hard state stored", got)
	}
	if hs := *n.persistHS.Load(); hs.Commit != 2 {
		t.Fatalf("stored commit index %d after the write, want 2", hs.Commit)
	}

	n, log = persistNode(t, wire.HardState{Term: 1, Vote: "n2"})
	p = persister{n: n}
	vote := wire.Message{Type: wire.MsgVoteResp, From: "n1", To: "n3", Term: 2}
	err = p.write([]persistItem{{hs: wire.HardState{Term: 2, Vote: "n3"}, messages: []wire.Message{vote}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.events; len(got) != 2 || got[0] != "store-hard-state" || got[1] != "send-MsgVoteResp" {
		t.Fatalf("vote change: events %v, want the hard state stored, then the vote sent", got)
	}
}
