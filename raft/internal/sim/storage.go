package sim

import (
	"fmt"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/wire"
)

// durable is what survives a crash of a node: its hard state, its log and
// the metadata of its newest snapshot (whose data sits in the simulator's
// snapshot store, which never loses anything).
type durable struct {
	hs   wire.HardState
	log  simLog
	snap wire.SnapshotMeta
}

// memStorage is the core.Storage a RawNode reads: a view of its node's
// durable state. It hands out copies, because the simulator keeps
// changing the durable log while the core may hold what it read.
type memStorage struct {
	d *durable
}

func (s memStorage) Entries(lo, hi, maxBytes uint64) ([]wire.Entry, error) {
	l := &s.d.log
	if lo <= l.base {
		return nil, fmt.Errorf("entries [%d, %d) below first index %d: %w", lo, hi, l.base+1, logstore.ErrCompacted)
	}
	if hi > l.lastIndex()+1 {
		return nil, fmt.Errorf("entries [%d, %d) beyond last index %d: %w", lo, hi, l.lastIndex(), logstore.ErrUnavailable)
	}
	if lo >= hi {
		return nil, nil
	}
	src := l.ents[lo-l.base-1 : hi-l.base-1]
	n := len(src)
	if maxBytes > 0 {
		total := src[0].Size()
		n = 1
		for ; n < len(src); n++ {
			total += src[n].Size()
			if total > maxBytes {
				break
			}
		}
	}
	return append([]wire.Entry(nil), src[:n]...), nil
}

func (s memStorage) Term(i uint64) (uint64, error) {
	l := &s.d.log
	if i < l.base {
		return 0, fmt.Errorf("term of %d below snapshot index %d: %w", i, l.base, logstore.ErrCompacted)
	}
	if t, ok := l.term(i); ok {
		return t, nil
	}
	return 0, fmt.Errorf("term of %d beyond last index %d: %w", i, l.lastIndex(), logstore.ErrUnavailable)
}

func (s memStorage) FirstIndex() uint64 { return s.d.log.base + 1 }

func (s memStorage) LastIndex() uint64 { return s.d.log.lastIndex() }

func (s memStorage) Snapshot() wire.SnapshotMeta { return s.d.snap }
