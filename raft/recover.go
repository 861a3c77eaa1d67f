package raft

import (
	"errors"
	"fmt"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/wire"
)

// ErrNothingToRecover is returned by RecoverCluster for a node with no log
// and no snapshot: there is no state to carry over; Bootstrap it instead.
var ErrNothingToRecover = errors.New("raft: nothing to recover: the node has no log and no snapshot")

// RecoverCluster rewrites the membership of a stopped node whose cluster
// has permanently lost its quorum, so that it can lead again. Run it on
// the node's stores while no Node uses them, then start the node with
// NewNode as usual (do not Bootstrap it).
//
// It appends a configuration entry holding conf after the last entry of
// the node's log (or after its newest snapshot), in a term above every
// term the node has seen, and marks that entry, hence the whole log,
// committed. conf must list this node as a voter. On start the node is a
// member of conf only; with conf naming it alone, it elects itself.
//
// WARNING: this breaks Raft's guarantees on purpose, to get a cluster
// that can never again reach a quorum going:
//   - Every write that was acknowledged to a client but is not in this
//     node's log is lost for good. Entries in this node's log that were
//     never committed become committed. Run it on the most up-to-date
//     survivor only (compare LastLogPosition across the stopped
//     survivors), and on ONE node only: recovering two nodes
//     separately can give them conflicting logs that both claim to be
//     committed.
//   - Any server of the old cluster that comes back must not rejoin with
//     its old state unless conf lists it: wipe it and add it anew with
//     AddLearner/AddVoter. Servers that conf lists and that still hold
//     their old state catch up from this node, which overwrites any tail
//     of theirs it lacks.
//   - Never run it while the old quorum may still be alive: two clusters
//     would then accept writes under the same IDs.
func RecoverCluster(store logstore.Store, snaps snapshot.Store, conf wire.Configuration) error {
	if err := conf.Validate(); err != nil {
		return fmt.Errorf("recover cluster: invalid configuration: %w", err)
	}
	if store == nil || snaps == nil {
		return fmt.Errorf("%w: RecoverCluster needs a log store and a snapshot store", ErrInvalidConfig)
	}
	hs, _, err := store.HardState()
	if err != nil {
		return fmt.Errorf("recover cluster: read hard state: %w", err)
	}
	base, err := lastPosition(store, snaps)
	if err != nil {
		return fmt.Errorf("recover cluster: %w", err)
	}
	if base.index == 0 {
		return ErrNothingToRecover
	}
	if base.discardLog {
		last, err := store.LastIndex()
		if err != nil {
			return fmt.Errorf("recover cluster: read last index: %w", err)
		}
		if err := store.DeleteBefore(last + 1); err != nil {
			return fmt.Errorf("recover cluster: discard log that conflicts with the snapshot at %d: %w", base.index, err)
		}
	}
	baseIndex, baseTerm := base.index, base.term
	term := max(hs.Term, baseTerm) + 1
	// The term first (a crash after it changes nothing but the term), then
	// the entry, then the commit index that covers it: the hard state never
	// claims a commit beyond the log.
	if err := store.SetHardState(wire.HardState{Term: term, Commit: min(hs.Commit, baseIndex)}); err != nil {
		return fmt.Errorf("recover cluster: store term %d: %w", term, err)
	}
	c := conf.Clone()
	ent := wire.Entry{Index: baseIndex + 1, Term: term, Type: wire.EntryConfig, Config: &c}
	if err := store.StoreEntries([]wire.Entry{ent}); err != nil {
		return fmt.Errorf("recover cluster: append configuration at %d: %w", ent.Index, err)
	}
	if err := store.SetHardState(wire.HardState{Term: term, Commit: ent.Index}); err != nil {
		return fmt.Errorf("recover cluster: commit configuration at %d: %w", ent.Index, err)
	}
	return nil
}

// LastLogPosition returns the index and term of the last entry of a
// stopped node's log (or of its newest snapshot, when the log does not
// continue it). Before RecoverCluster, compare it across the survivors:
// the most up-to-date one has the highest term, then the highest index.
func LastLogPosition(store logstore.Store, snaps snapshot.Store) (index, term uint64, err error) {
	p, err := lastPosition(store, snaps)
	return p.index, p.term, err
}

// position is where a node's log ends; discardLog reports a log that does
// not continue the newest snapshot, which NewNode would discard.
type position struct {
	index, term uint64
	discardLog  bool
}

// lastPosition reads where the log of store (based on the newest
// snapshot in snaps) ends. It changes nothing.
func lastPosition(store logstore.Store, snaps snapshot.Store) (position, error) {
	var snap wire.SnapshotMeta
	metas, err := snaps.List()
	if err != nil {
		return position{}, fmt.Errorf("list snapshots: %w", err)
	}
	if len(metas) > 0 {
		snap = metas[0]
	}
	first, err := store.FirstIndex()
	if err != nil {
		return position{}, fmt.Errorf("read first index: %w", err)
	}
	last, err := store.LastIndex()
	if err != nil {
		return position{}, fmt.Errorf("read last index: %w", err)
	}
	if last == 0 {
		return position{index: snap.Index, term: snap.Term}, nil
	}
	if first > snap.Index+1 {
		return position{}, fmt.Errorf("%w: log starts at %d, after snapshot %d", logstore.ErrCorrupt, first, snap.Index)
	}
	continues := last >= snap.Index
	if continues && snap.Index > 0 && first <= snap.Index {
		ents, err := store.Entries(snap.Index, snap.Index+1, 0)
		if err != nil {
			return position{}, fmt.Errorf("read entry %d: %w", snap.Index, err)
		}
		continues = ents[0].Term == snap.Term
	}
	if !continues {
		return position{index: snap.Index, term: snap.Term, discardLog: true}, nil
	}
	ents, err := store.Entries(last, last+1, 0)
	if err != nil {
		return position{}, fmt.Errorf("read last entry %d: %w", last, err)
	}
	return position{index: last, term: ents[0].Term}, nil
}
