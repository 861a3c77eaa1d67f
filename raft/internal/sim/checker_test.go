package sim

import (
	"strings"
	"testing"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// The checks must be able to fail: these tests feed the simulator's Ready
// handling hand-made batches that break each property, without any core.

// newCheckSim returns a simulator of n bootstrapped nodes that have no
// RawNode: tests drive handleReady directly.
func newCheckSim(t *testing.T, n int) *Sim {
	t.Helper()
	s := newSim(Config{Seed: 1, Scenario: Scenario{Name: "unit", Nodes: n}})
	var conf wire.Configuration
	for _, nd := range s.nodes {
		conf.Servers = append(conf.Servers, wire.Server{ID: nd.id})
	}
	boot, err := core.Bootstrap(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range s.nodes {
		nd.d.hs = wire.HardState{Term: 1}
		if _, err := nd.d.log.appendEntries([]wire.Entry{boot}); err != nil {
			t.Fatal(err)
		}
		nd.held = nd.d.log.clone()
		nd.alive, nd.term = true, 1
		nd.proposals = map[uint64]bool{}
		s.checkLogMatching(nd, []wire.Entry{boot})
	}
	return s
}

func ents(term uint64, from, to uint64) []wire.Entry {
	var out []wire.Entry
	for i := from; i <= to; i++ {
		out = append(out, wire.Entry{Index: i, Term: term, Data: []byte{byte(i), byte(term)}})
	}
	return out
}

func becomeLeader(s *Sim, i int, term uint64) {
	s.handleReady(s.nodes[i], &core.Ready{
		SoftState: &core.SoftState{State: core.StateLeader, Lead: s.nodes[i].id},
		HardState: wire.HardState{Term: term, Vote: s.nodes[i].id, Commit: s.nodes[i].commit},
	})
}

func wantViolation(t *testing.T, s *Sim, property string) {
	t.Helper()
	if s.violation == nil {
		t.Fatalf("no violation, want %q", property)
	}
	if !strings.Contains(s.violation.Property, property) {
		t.Fatalf("violation %q, want %q:\n%v", s.violation.Property, property, s.violation)
	}
}

func TestCheckElectionSafety(t *testing.T) {
	s := newCheckSim(t, 3)
	becomeLeader(s, 0, 2)
	if s.violation != nil {
		t.Fatal(s.violation)
	}
	becomeLeader(s, 1, 2)
	wantViolation(t, s, "Election Safety")
}

func TestCheckLogMatching(t *testing.T) {
	s := newCheckSim(t, 2)
	s.handleReady(s.nodes[0], &core.Ready{Entries: ents(2, 2, 4)})
	bad := ents(2, 2, 4)
	bad[0].Data = []byte("other") // same (index, term) at 2, different entry
	s.handleReady(s.nodes[1], &core.Ready{Entries: bad})
	wantViolation(t, s, "Log Matching")
}

func TestCheckLeaderAppendOnly(t *testing.T) {
	s := newCheckSim(t, 3)
	becomeLeader(s, 0, 2)
	s.handleReady(s.nodes[0], &core.Ready{Entries: ents(2, 2, 4)})
	s.handleReady(s.nodes[0], &core.Ready{Entries: ents(2, 3, 3)}) // rewrites 3, drops 4
	wantViolation(t, s, "Leader Append-Only")
}

func TestCheckStateMachineSafety(t *testing.T) {
	s := newCheckSim(t, 2)
	s.handleReady(s.nodes[0], &core.Ready{Entries: ents(2, 2, 3), HardState: wire.HardState{Term: 2, Commit: 3}})
	s.handleReady(s.nodes[1], &core.Ready{Entries: ents(3, 2, 3), HardState: wire.HardState{Term: 3, Commit: 3}})
	wantViolation(t, s, "State Machine Safety")
}

func TestCheckLeaderCompleteness(t *testing.T) {
	s := newCheckSim(t, 3)
	s.handleReady(s.nodes[0], &core.Ready{Entries: ents(2, 2, 3), HardState: wire.HardState{Term: 2, Commit: 3}})
	if s.violation != nil {
		t.Fatal(s.violation)
	}
	becomeLeader(s, 1, 3) // its log ends at 1
	wantViolation(t, s, "Leader Completeness")
}

func TestCheckCommitNeverDecreases(t *testing.T) {
	s := newCheckSim(t, 1)
	s.handleReady(s.nodes[0], &core.Ready{Entries: ents(2, 2, 3), HardState: wire.HardState{Term: 2, Commit: 3}})
	s.handleReady(s.nodes[0], &core.Ready{HardState: wire.HardState{Term: 2, Commit: 2}})
	wantViolation(t, s, "commit index never decreases")
}

func TestCheckOneVotePerTerm(t *testing.T) {
	s := newCheckSim(t, 3)
	s.handleReady(s.nodes[0], &core.Ready{HardState: wire.HardState{Term: 2, Vote: "n2"}})
	s.handleReady(s.nodes[0], &core.Ready{HardState: wire.HardState{Term: 2, Vote: "n3"}})
	wantViolation(t, s, "one vote per term")
}

func TestCheckApplyOnceInOrder(t *testing.T) {
	s := newCheckSim(t, 1)
	e := ents(2, 2, 3)
	boot := s.nodes[0].held.ents[0]
	s.handleReady(s.nodes[0], &core.Ready{Entries: e, HardState: wire.HardState{Term: 2, Commit: 3}, CommittedEntries: append([]wire.Entry{boot}, e...)})
	if s.violation != nil {
		t.Fatal(s.violation)
	}
	s.handleReady(s.nodes[0], &core.Ready{CommittedEntries: e[1:]})
	wantViolation(t, s, "apply in order, once")
}

func TestCheckApplyOnlyCommitted(t *testing.T) {
	s := newCheckSim(t, 1)
	e := ents(2, 2, 3)
	s.handleReady(s.nodes[0], &core.Ready{Entries: e, HardState: wire.HardState{Term: 2, Commit: 1},
		CommittedEntries: []wire.Entry{s.nodes[0].held.ents[0], e[0]}})
	wantViolation(t, s, "apply only committed")
}

func TestCheckSnapshotNotOlderThanApplied(t *testing.T) {
	s := newCheckSim(t, 1)
	n := s.nodes[0]
	e := ents(2, 2, 5)
	s.handleReady(n, &core.Ready{Entries: e, HardState: wire.HardState{Term: 2, Commit: 3}, CommittedEntries: []wire.Entry{n.held.ents[0], e[0], e[1]}})
	s.storageStep(n) // entries durable
	s.storageStep(n) // hard state durable
	s.compact(n)     // snapshot at 3
	id := n.d.snap.ID
	s.handleReady(n, &core.Ready{HardState: wire.HardState{Term: 2, Commit: 5}, CommittedEntries: e[2:]})
	if s.violation != nil {
		t.Fatal(s.violation)
	}
	meta := n.d.snap
	if meta.ID != id || meta.Index != 3 {
		t.Fatalf("snapshot %+v, want index 3", meta)
	}
	s.handleReady(n, &core.Ready{Snapshot: &meta})
	wantViolation(t, s, "no snapshot older than applied")
}

func TestCheckAcknowledgedWritesSurvive(t *testing.T) {
	s := newCheckSim(t, 1)
	n := s.nodes[0]
	n.proposals[7] = true
	e := wire.Entry{Index: 2, Term: 2, Origin: n.id, ProposalID: 7}
	s.handleReady(n, &core.Ready{Entries: []wire.Entry{e}, HardState: wire.HardState{Term: 2, Commit: 2},
		CommittedEntries: []wire.Entry{n.held.ents[0], e}})
	s.checkFinal()
	if s.violation != nil {
		t.Fatalf("a write committed once: %v", s.violation)
	}
	s.acks = append(s.acks, ack{id: 8, index: 2, node: n.id}) // acknowledged, never committed
	s.checkFinal()
	wantViolation(t, s, "acknowledged writes survive exactly once")
}

func TestCheckStaleRead(t *testing.T) {
	s := newCheckSim(t, 1)
	n := s.nodes[0]
	s.handleReady(n, &core.Ready{Entries: ents(2, 2, 3), HardState: wire.HardState{Term: 2, Commit: 3}})
	s.reads[1] = readReq{minIndex: s.chk.lastCommitted()}
	s.handleReady(n, &core.Ready{ReadStates: []core.ReadState{{Index: 2, RequestCtx: []byte{0, 0, 0, 0, 0, 0, 0, 1}}}})
	wantViolation(t, s, "linearizable read")
}
