package core

import "github.com/mandate-raft/mandate/wire"

// unstable holds what this node has accepted but not yet seen become
// durable: a snapshot to install and/or entries to write. Storage holds
// everything before it.
//
// Invariants: offset == snapshot.Index+1 when snapshot != nil; entries[i]
// has index offset+i; offset <= offsetInProgress <= offset+len(entries).
type unstable struct {
	// snapshot is a snapshot received from the leader, not yet durable.
	snapshot *wire.SnapshotMeta
	// snapshotInProgress is set once snapshot was handed out in a Ready.
	snapshotInProgress bool
	// entries are the entries not yet durable.
	entries []wire.Entry
	// offset is the index of entries[0].
	offset uint64
	// offsetInProgress is the first index not yet handed out in a Ready:
	// entries [offset, offsetInProgress) are being written.
	offsetInProgress uint64
}

// maybeLastIndex returns the last index held here, if any.
func (u *unstable) maybeLastIndex() (uint64, bool) {
	if n := len(u.entries); n != 0 {
		return u.offset + uint64(n) - 1, true
	}
	if u.snapshot != nil {
		return u.snapshot.Index, true
	}
	return 0, false
}

// maybeTerm returns the term of entry i if it is held here.
func (u *unstable) maybeTerm(i uint64) (uint64, bool) {
	if i < u.offset {
		if u.snapshot != nil && u.snapshot.Index == i {
			return u.snapshot.Term, true
		}
		return 0, false
	}
	last, ok := u.maybeLastIndex()
	if !ok || i > last {
		return 0, false
	}
	return u.entries[i-u.offset].Term, true
}

// nextEntries returns the entries not yet handed out, capped so that the
// caller cannot append into our array.
func (u *unstable) nextEntries() []wire.Entry {
	inProgress := int(u.offsetInProgress - u.offset)
	if inProgress == len(u.entries) {
		return nil
	}
	return u.entries[inProgress:len(u.entries):len(u.entries)]
}

// nextSnapshot returns the snapshot if it was not yet handed out.
func (u *unstable) nextSnapshot() *wire.SnapshotMeta {
	if u.snapshot == nil || u.snapshotInProgress {
		return nil
	}
	return u.snapshot
}

// acceptInProgress marks everything currently held as handed out.
func (u *unstable) acceptInProgress() {
	u.offsetInProgress = u.offset + uint64(len(u.entries))
	if u.snapshot != nil {
		u.snapshotInProgress = true
	}
}

// stableTo records that entries up to (i, t) are durable. It returns false
// when (i, t) no longer names an entry held here: it was overwritten by a
// later append (whose own acknowledgement will come), or it was already
// stable.
func (u *unstable) stableTo(i, t uint64) bool {
	gt, ok := u.maybeTerm(i)
	if !ok || gt != t || i < u.offset || i >= u.offsetInProgress {
		return false
	}
	if u.snapshot != nil {
		// Writes happen in order: entries after the snapshot being durable
		// means the snapshot is too.
		if !u.snapshotInProgress {
			return false
		}
		u.snapshot, u.snapshotInProgress = nil, false
	}
	n := int(i + 1 - u.offset)
	u.entries = u.entries[n:]
	u.offset = i + 1
	u.shrink()
	return true
}

// shrink releases the array behind entries when most of it is unused, so
// that a long-lived log does not pin memory for entries long stable.
func (u *unstable) shrink() {
	const lenMultiple = 2
	if len(u.entries) == 0 {
		u.entries = nil
	} else if len(u.entries)*lenMultiple < cap(u.entries) {
		u.entries = append([]wire.Entry(nil), u.entries...)
	}
}

// stableSnapTo records that the snapshot at index i is durable.
func (u *unstable) stableSnapTo(i uint64) bool {
	if u.snapshot == nil || u.snapshot.Index != i || !u.snapshotInProgress {
		return false
	}
	u.snapshot, u.snapshotInProgress = nil, false
	return true
}

// restore replaces everything held with snapshot s.
func (u *unstable) restore(s wire.SnapshotMeta) {
	u.offset = s.Index + 1
	u.offsetInProgress = u.offset
	u.entries = nil
	u.snapshot = &s
	u.snapshotInProgress = false
}

// truncateAndAppend appends ents (consecutive, non-empty), first dropping
// every entry held at or after ents[0].Index.
func (u *unstable) truncateAndAppend(ents []wire.Entry) {
	from := ents[0].Index
	switch {
	case from == u.offset+uint64(len(u.entries)):
		u.entries = append(u.entries, ents...)
	case from <= u.offset:
		// The whole unstable tail (and maybe part of the stable log) is
		// replaced. Copy: ents may share an array with its sender.
		u.entries = append([]wire.Entry(nil), ents...)
		u.offset = from
		u.offsetInProgress = u.offset
	default:
		// Keep a prefix. Copy it to a new array: the old one may be held
		// by a Ready or a message being written or sent right now.
		keep := u.entries[:from-u.offset]
		u.entries = make([]wire.Entry, 0, len(keep)+len(ents))
		u.entries = append(append(u.entries, keep...), ents...)
		u.offsetInProgress = min(u.offsetInProgress, from)
	}
}

// slice returns entries [lo, hi) held here; the caller checked bounds.
func (u *unstable) slice(lo, hi uint64) []wire.Entry {
	return u.entries[lo-u.offset : hi-u.offset : hi-u.offset]
}
