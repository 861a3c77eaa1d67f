package core

import "github.com/mandate-raft/mandate/wire"

// pendingWrite is an entry write handed out in a Ready: entries up to
// index, handed out at tick.
type pendingWrite struct {
	index uint64
	tick  uint64
}

// diskStalled reports whether the oldest write handed out and not yet
// reported durable has waited DiskStallTicks or more.
func (r *raft) diskStalled() bool {
	return len(r.pendingWrites) > 0 && r.ticks-r.pendingWrites[0].tick >= uint64(r.cfg.DiskStallTicks)
}

// notePendingWrite records entries up to index handed out now.
func (r *raft) notePendingWrite(index uint64) {
	if n := len(r.pendingWrites); n > 0 && r.pendingWrites[n-1].tick == r.ticks {
		r.pendingWrites[n-1].index = index
		return
	}
	r.pendingWrites = append(r.pendingWrites, pendingWrite{index: index, tick: r.ticks})
}

// popPendingWrites forgets the writes an acknowledgement up to index
// covers. Writes complete in order, so an acknowledgement of a write also
// covers every write handed out before it, even one whose entries were
// overwritten meanwhile and so end at a higher index (a runtime that
// groups Readys acknowledges only the last of them).
func (r *raft) popPendingWrites(index uint64) {
	n := 0
	for i := len(r.pendingWrites) - 1; i >= 0; i-- {
		if r.pendingWrites[i].index == index {
			n = i + 1
			break
		}
	}
	for n < len(r.pendingWrites) && r.pendingWrites[n].index <= index {
		n++
	}
	if n == len(r.pendingWrites) {
		r.pendingWrites = r.pendingWrites[:0]
		return
	}
	r.pendingWrites = r.pendingWrites[n:]
}

// handleStorageAppendResp learns that writes up to (m.Index, m.LogTerm)
// are durable.
func (r *raft) handleStorageAppendResp(m wire.Message) {
	r.popPendingWrites(m.Index)
	if m.Snapshot != nil {
		r.log.unstable.stableSnapTo(m.Snapshot.Index)
	}
	if m.Index == 0 {
		return
	}
	if !r.log.unstable.stableTo(m.Index, m.LogTerm) {
		if s := r.log.unstable.snapshot; s != nil && s.Index == m.Index && s.Term == m.LogTerm {
			r.log.unstable.stableSnapTo(m.Index)
		}
		return
	}
	if r.state != StateLeader {
		return
	}
	if pr := r.trk.Progress[r.id]; pr != nil && pr.MaybeUpdate(m.Index) {
		if r.maybeCommit() {
			r.bcastAppend()
		}
	}
	// A leader whose removal committed through its followers' copies
	// waits for its own before it steps down.
	r.maybeStepDownAfterRemoval()
}

// handleStorageSnapResp learns that the snapshot at its index is durable.
func (r *raft) handleStorageSnapResp(m wire.Message) {
	idx := m.Index
	if m.Snapshot != nil {
		idx = m.Snapshot.Index
	}
	r.log.unstable.stableSnapTo(idx)
}
