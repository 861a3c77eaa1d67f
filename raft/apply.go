package raft

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// applyItem is the part of one Ready (or a request) the apply stage
// handles, in this order: restore the snapshot, apply the entries, queue
// the read states, then fail proposals of epochs before epoch.
type applyItem struct {
	snap    *wire.SnapshotMeta
	entries []wire.Entry
	reads   []core.ReadState
	epoch   uint64
	// snapReq, when set, asks for a snapshot now (Node.Snapshot).
	snapReq chan snapResult
}

type snapResult struct {
	meta wire.SnapshotMeta
	err  error
}

// applier is the apply stage: the only goroutine that calls the FSM.
type applier struct {
	n   *Node
	log hclog.Logger // the apply stage's named logger
	// applied and appliedTerm describe the last entry applied to the FSM,
	// and conf the configuration in force at it (for snapshot metadata).
	applied, appliedTerm uint64
	conf                 wire.Configuration
	// lastSnap is the index of the newest snapshot taken or restored.
	lastSnap atomic.Uint64
	// snapping counts snapshots being persisted in the background.
	snapping atomic.Int32
	// reads wait for applied to reach their index.
	reads []core.ReadState
	// Reused buffers.
	cmds  []fsm.Command
	refs  []int
	outs  []resolved
	taken []*proposal
}

func newApplier(n *Node, snap wire.SnapshotMeta) *applier {
	a := &applier{n: n, log: n.log.Named("apply"), applied: snap.Index, appliedTerm: snap.Term, conf: snap.Config.Clone()}
	a.lastSnap.Store(snap.Index)
	n.pub.applied.Store(snap.Index)
	return a
}

func (a *applier) run() {
	n := a.n
	defer n.wg.Done()
	ticker := n.newSnapshotTicker()
	defer func() { ticker.Stop() }()
	var spare []applyItem
	for {
		select {
		case <-n.applyQ.signal:
		case <-n.snapshotIntervalChanged():
			ticker.Stop()
			ticker = n.newSnapshotTicker()
			continue
		case <-ticker.C():
			if a.snapping.Load() == 0 && a.applied-a.lastSnap.Load() >= n.snapshotThreshold() {
				a.takeSnapshot(nil)
			}
			continue
		case <-n.stopc:
			return
		}
		items := n.applyQ.take(spare)
		for i := range items {
			if err := a.handle(&items[i]); err != nil {
				n.stop(fmt.Errorf("apply stage: %w", err))
				return
			}
			n.applyBacklog.Add(-int64(len(items[i].entries)))
		}
		spare = items
	}
}

func (a *applier) handle(it *applyItem) error {
	n := a.n
	if it.snap != nil && it.snap.Index > a.applied {
		if err := n.restoreSnapshot(it.snap.ID); err != nil {
			return err
		}
		a.applied, a.appliedTerm, a.conf = it.snap.Index, it.snap.Term, it.snap.Config.Clone()
		a.lastSnap.Store(it.snap.Index)
		n.pub.applied.Store(a.applied)
		a.log.Info("restored FSM from snapshot", "snapshot-index", it.snap.Index, "snapshot-id", it.snap.ID)
		// Entries the snapshot covers are never applied one by one here:
		// whoever waits for one of them cannot learn its fate.
		n.props.skippedTo(it.snap.Index)
	}
	if err := a.apply(it.entries); err != nil {
		return err
	}
	a.reads = append(a.reads, it.reads...)
	a.answerReads()
	if it.epoch != 0 {
		n.props.failHanded(it.epoch, ErrLeadershipLost)
	}
	if it.snapReq != nil {
		a.takeSnapshot(it.snapReq)
	}
	return nil
}

// apply feeds committed entries to the FSM, in one ApplyBatch call when the
// FSM supports it, and resolves the futures of this node's proposals.
func (a *applier) apply(ents []wire.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	n := a.n
	cmds, refs := a.cmds[:0], a.refs[:0]
	for i := range ents {
		e := &ents[i]
		if e.Index <= a.applied {
			continue // already in the restored snapshot
		}
		if e.Index != a.applied+1 {
			return fmt.Errorf("committed entry %d does not follow applied index %d", e.Index, a.applied)
		}
		switch e.Type {
		case wire.EntryNormal:
			var t time.Time
			if e.Time != 0 {
				t = time.Unix(0, e.Time)
			}
			cmds = append(cmds, fsm.Command{Index: e.Index, Term: e.Term, Time: t, Data: e.Data})
			refs = append(refs, i)
		case wire.EntryConfig:
			if e.Config != nil {
				a.conf = e.Config.Clone()
			}
		}
		a.applied, a.appliedTerm = e.Index, e.Term
	}
	var results []fsm.Result
	if len(cmds) > 0 {
		if b, ok := n.fsm.(fsm.BatchFSM); ok {
			results = b.ApplyBatch(cmds)
			if len(results) != len(cmds) {
				return fmt.Errorf("FSM ApplyBatch returned %d results for %d commands", len(results), len(cmds))
			}
		} else {
			results = make([]fsm.Result, len(cmds))
			for i := range cmds {
				results[i] = n.fsm.Apply(cmds[i])
			}
		}
	}
	n.pub.applied.Store(a.applied)
	if n.props.waitingForIndex() {
		for i := range ents {
			n.props.appliedIndex(ents[i].Index, ents[i].Term)
		}
	}
	outs := a.outs[:0]
	for j, i := range refs {
		e := &ents[i]
		if e.Origin == n.id && e.ProposalID != 0 {
			outs = append(outs, resolved{id: e.ProposalID, o: outcome{applied: Applied{Index: e.Index, Term: e.Term, Result: results[j]}}})
		}
	}
	if len(outs) > 0 {
		n.lastWoken.Store(int32(min(len(outs), 1<<30)))
		a.taken = n.props.resolveAll(outs, a.taken)
	}
	clear(cmds)
	clear(outs)
	a.cmds, a.refs, a.outs = cmds[:0], refs[:0], outs[:0]
	return nil
}

// answerReads releases the barriers whose read index has been applied.
func (a *applier) answerReads() {
	kept := a.reads[:0]
	for _, rs := range a.reads {
		if rs.Index > a.applied {
			kept = append(kept, rs)
			continue
		}
		if len(rs.RequestCtx) == 8 {
			a.n.props.resolveBarrier(binary.BigEndian.Uint64(rs.RequestCtx), nil)
		}
	}
	clear(a.reads[len(kept):])
	a.reads = kept
}

// takeSnapshot takes a point-in-time view of the FSM here, between two
// applies, and persists it in the background so that applying goes on.
// Once persisted, the log is compacted down to TrailingLogs entries.
func (a *applier) takeSnapshot(reply chan snapResult) {
	n := a.n
	respond := func(r snapResult) {
		if reply != nil {
			reply <- r
		}
	}
	if a.applied == 0 {
		respond(snapResult{err: ErrNothingToSnapshot})
		return
	}
	if a.applied == a.lastSnap.Load() {
		if meta := n.storage.Snapshot(); meta.Index == a.applied {
			respond(snapResult{meta: meta})
			return
		}
	}
	s, err := n.fsm.Snapshot()
	if err != nil {
		a.log.Warn("FSM snapshot failed", "applied-index", a.applied, "error", err)
		respond(snapResult{err: fmt.Errorf("FSM snapshot at %d: %w", a.applied, err)})
		return
	}
	meta := wire.SnapshotMeta{Index: a.applied, Term: a.appliedTerm, Config: a.conf.Clone()}
	a.snapping.Add(1)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer a.snapping.Add(-1)
		meta, err := a.persistSnapshot(s, meta)
		if err != nil {
			a.log.Warn("snapshot not persisted", "snapshot-index", meta.Index, "error", err)
		}
		respond(snapResult{meta: meta, err: err})
	}()
}

func (a *applier) persistSnapshot(s fsm.Snapshot, meta wire.SnapshotMeta) (wire.SnapshotMeta, error) {
	n := a.n
	defer s.Release()
	sink, err := n.snaps.Create(meta)
	if err != nil {
		return meta, fmt.Errorf("create snapshot %d: %w", meta.Index, err)
	}
	if err := s.Persist(sink); err != nil {
		_ = sink.Cancel()
		return meta, fmt.Errorf("persist snapshot %d: %w", meta.Index, err)
	}
	if err := sink.Close(); err != nil {
		return meta, fmt.Errorf("close snapshot %d: %w", meta.Index, err)
	}
	meta.ID = sink.ID()
	n.storage.setSnapshot(meta)
	for {
		old := a.lastSnap.Load()
		if old >= meta.Index || a.lastSnap.CompareAndSwap(old, meta.Index) {
			break
		}
	}
	if trailing := n.trailingLogs(); meta.Index > trailing {
		if err := n.storage.compact(meta.Index - trailing + 1); err != nil {
			return meta, fmt.Errorf("compact log after snapshot %d: %w", meta.Index, err)
		}
	}
	a.log.Info("snapshot taken", "snapshot-index", meta.Index, "snapshot-id", meta.ID)
	return meta, nil
}
