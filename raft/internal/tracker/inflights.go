// Package tracker is the leader's bookkeeping of its followers: how far
// each one's log matches (Progress), how many appends are in flight to it
// (Inflights), and the membership those followers form (Tracker). It is
// pure: the core drives it.
package tracker

// Inflights is a bounded FIFO of the last indexes of the MsgApps sent to
// one follower and not yet acknowledged. It is the pipelining window: while
// it is full the leader sends no more appends to that follower.
//
// Invariant: the indexes in the window increase from oldest to newest.
type Inflights struct {
	start  int      // position of the oldest index in buf
	count  int      // number of indexes in the window
	buf    []uint64 // ring buffer; allocated lazily up to its capacity
	capped int      // the window's size (MaxInflightMsgs)
}

// NewInflights returns an empty window of the given size (at least 1).
func NewInflights(size int) *Inflights {
	if size < 1 {
		size = 1
	}
	return &Inflights{capped: size}
}

// Add records a MsgApp whose last entry is index. It panics when the window
// is full: callers check Full first, so a full Add is a broken invariant.
func (in *Inflights) Add(index uint64) {
	if in.Full() {
		panic("tracker: Add on a full inflights window")
	}
	if in.buf == nil {
		// Most followers never need the whole window; grow on demand.
		in.buf = make([]uint64, min(in.capped, 16))
	}
	if in.count == len(in.buf) {
		in.grow()
	}
	pos := (in.start + in.count) % len(in.buf)
	in.buf[pos] = index
	in.count++
}

func (in *Inflights) grow() {
	n := min(len(in.buf)*2, in.capped)
	nb := make([]uint64, n)
	for i := 0; i < in.count; i++ {
		nb[i] = in.buf[(in.start+i)%len(in.buf)]
	}
	in.buf, in.start = nb, 0
}

// FreeLE drops every in-flight append whose last index is <= index: the
// follower has acknowledged them.
func (in *Inflights) FreeLE(index uint64) {
	for in.count > 0 && in.buf[in.start] <= index {
		in.start = (in.start + 1) % len(in.buf)
		in.count--
	}
	if in.count == 0 {
		in.start = 0
	}
}

// FreeFirstOne drops the oldest in-flight append, if any. The leader uses
// it when a heartbeat answer shows the follower alive while the window is
// full, so that a window filled by lost messages cannot stall the follower
// forever.
func (in *Inflights) FreeFirstOne() {
	if in.count == 0 {
		return
	}
	in.FreeLE(in.buf[in.start])
}

// Full reports whether no more appends may be sent.
func (in *Inflights) Full() bool { return in.count >= in.capped }

// Count returns the number of appends in flight.
func (in *Inflights) Count() int { return in.count }

// Reset empties the window.
func (in *Inflights) Reset() { in.start, in.count = 0, 0 }
