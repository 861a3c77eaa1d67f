package raft

import (
	"fmt"
	"runtime"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// persistItem is the part of one Ready the storage stage handles.
type persistItem struct {
	snap     *wire.SnapshotMeta
	entries  []wire.Entry
	hs       wire.HardState
	messages []wire.Message // Ready.DurableMessages
}

// Commit-index persistence policy. A term or vote change is always
// written before the messages that depend on it leave. The commit index
// alone is only a restart hint (a restarted node relearns it from the
// leader, and the log and snapshot are what hold committed data), so a
// change of it alone is written lazily, at most one extra write per
// commitPersistPeriod: once it has advanced by commitPersistEntries, or
// commitPersistPeriod after the last write. A graceful shutdown writes
// everything queued and the latest commit index, so the commit index a
// node reports never goes back across a clean restart; after a crash it
// may restart up to one period behind, which Raft tolerates. It is never
// written ahead of the entries it covers.
const (
	commitPersistEntries = 1024
	commitPersistPeriod  = 100 * time.Millisecond
)

// runPersist is the storage stage: it writes queued Readys in groups and
// then releases what waited for them.
func (n *Node) runPersist() {
	defer n.wg.Done()
	p := persister{n: n}
	var spare []persistItem
	for {
		select {
		case <-n.persistQ.signal:
		case <-n.stopc:
			p.finish()
			return
		}
		// A write holds this goroutine's processor through its fsyncs
		// (hundreds of microseconds each): the runtime hands a processor
		// in a system call to other work only when its monitor thread
		// notices, which can take milliseconds. So before writing, yield
		// once: the goroutines already runnable on this processor (the
		// callers the apply stage woke, the transport writers the event
		// loop woke) run their few microseconds first instead of waiting
		// behind the write. The write itself loses at most that much, and
		// its batch picks up what those goroutines queue meanwhile.
		runtime.Gosched()
		batch := n.persistQ.take(spare)
		if err := p.write(batch); err != nil {
			n.stop(fmt.Errorf("storage stage: %w", err))
			return
		}
		var written int64
		for i := range batch {
			written += int64(len(batch[i].entries))
		}
		n.persistBacklog.Add(-written)
		spare = batch
	}
}

type persister struct {
	n *Node
	// latest is the newest hard state seen; it may be ahead of the stored
	// one by its commit index only.
	latest    wire.HardState
	lastWrite time.Time
	msgs      []wire.Message // reused buffer of DurableMessages
}

// write makes a group of Readys durable with one log write (and at most
// one hard state write), then sends their DurableMessages and tells the
// core what is durable. This is the only place where persist-before-send
// is enforced.
func (p *persister) write(batch []persistItem) error {
	n := p.n
	var (
		acc     entryAccumulator
		hs      wire.HardState
		msgs    = p.msgs[:0]
		snap    *wire.SnapshotMeta
		lastEnt *wire.Entry
	)
	for i := range batch {
		it := &batch[i]
		if it.snap != nil {
			// Entries queued before the snapshot go first, then the
			// snapshot replaces the log's base.
			if err := n.storage.append(acc.take()); err != nil {
				return err
			}
			if err := n.storage.installSnapshot(*it.snap); err != nil {
				return err
			}
			snap, lastEnt = it.snap, nil
		}
		if len(it.entries) > 0 {
			acc.add(it.entries)
			lastEnt = &it.entries[len(it.entries)-1]
		}
		if !it.hs.IsEmpty() {
			hs = it.hs
		}
		msgs = append(msgs, it.messages...)
	}
	if err := n.storage.append(acc.take()); err != nil {
		return err
	}
	// A term or vote change is written before the messages that depend on
	// it leave. A change of the commit index alone promises nothing to
	// anyone, so its (lazy) write waits until the acknowledgements are
	// out: it must not add a commit to their path.
	commitOnly := false
	if !hs.IsEmpty() {
		stored := *n.persistHS.Load()
		commitOnly = hs.Term == stored.Term && hs.Vote == stored.Vote
		if !commitOnly {
			if err := p.writeHardState(hs); err != nil {
				return err
			}
		}
	}
	for _, m := range msgs {
		n.trans.Send(m)
	}
	clear(msgs)
	p.msgs = msgs[:0]
	if snap != nil {
		s := *snap
		n.stepLocal(wire.Message{Type: wire.MsgStorageSnapResp, Index: s.Index, LogTerm: s.Term, Snapshot: &s})
	}
	if lastEnt != nil {
		n.stepLocal(wire.Message{Type: wire.MsgStorageAppendResp, Index: lastEnt.Index, LogTerm: lastEnt.Term})
	}
	if commitOnly {
		// The entries it covers were written above.
		return p.writeHardState(hs)
	}
	return nil
}

// writeHardState stores hs when the policy above asks for it.
func (p *persister) writeHardState(hs wire.HardState) error {
	p.latest = hs
	stored := *p.n.persistHS.Load()
	if hs == stored {
		return nil
	}
	now := p.n.cfg.Clock.Now()
	if hs.Term == stored.Term && hs.Vote == stored.Vote &&
		hs.Commit < stored.Commit+commitPersistEntries && now.Sub(p.lastWrite) < commitPersistPeriod {
		return nil
	}
	if err := p.n.store.SetHardState(hs); err != nil {
		return fmt.Errorf("store hard state (term %d): %w", hs.Term, err)
	}
	p.n.persistHS.Store(&hs)
	p.lastWrite = now
	return nil
}

// finish runs at a graceful stop, once the event loop has returned: it
// writes the Readys still queued (so that what the node reported as
// committed is in its store) and the commit index the policy held back.
// After a fatal error it writes nothing more.
func (p *persister) finish() {
	n := p.n
	<-n.loopDone
	if n.Err() != nil {
		return
	}
	if batch := n.persistQ.take(nil); len(batch) > 0 {
		if err := p.write(batch); err != nil {
			n.log.Warn("could not write the last queued entries at shutdown", "error", err)
			return
		}
	}
	p.flushOnStop()
}

// flushOnStop writes a commit index the policy held back.
func (p *persister) flushOnStop() {
	if p.latest.IsEmpty() || p.n.Err() != nil {
		return
	}
	if stored := *p.n.persistHS.Load(); stored != p.latest && stored.Term == p.latest.Term && stored.Vote == p.latest.Vote {
		if err := p.n.store.SetHardState(p.latest); err != nil {
			p.n.log.Warn("could not store the commit index at shutdown", "error", err)
			return
		}
		hs := p.latest
		p.n.persistHS.Store(&hs)
	}
}

// stepLocal steps m into the core on the event loop (a local message: the
// storage stage's and the snapshot sender's reports).
func (n *Node) stepLocal(m wire.Message) {
	_ = n.sendLocal(n.ctx, func() {
		if err := n.rn.Step(m); err != nil {
			n.log.Debug("local message refused", "type", m.Type.String(), "error", err)
		}
	})
}

// entryAccumulator merges the entries of consecutive Readys into one run,
// applying the rule that later entries replace earlier ones from their
// first index on.
type entryAccumulator struct {
	ents  []wire.Entry
	owned bool // ents is our own array, safe to append to
}

func (a *entryAccumulator) add(ents []wire.Entry) {
	if len(ents) == 0 {
		return
	}
	if len(a.ents) == 0 || ents[0].Index <= a.ents[0].Index {
		a.ents, a.owned = ents, false
		return
	}
	first, last := a.ents[0].Index, a.ents[len(a.ents)-1].Index
	if ents[0].Index > last+1 {
		panic(fmt.Sprintf("raft: storage stage got entries from %d after entries ending at %d: the core skipped indexes", ents[0].Index, last))
	}
	keep := int(ents[0].Index - first)
	if a.owned && keep == len(a.ents) {
		a.ents = append(a.ents, ents...)
		return
	}
	merged := make([]wire.Entry, keep, keep+len(ents)+64)
	copy(merged, a.ents[:keep])
	a.ents, a.owned = append(merged, ents...), true
}

func (a *entryAccumulator) take() []wire.Entry {
	e := a.ents
	a.ents, a.owned = nil, false
	return e
}
