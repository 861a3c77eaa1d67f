package sim

import "github.com/mandate-raft/mandate/wire"

// Time is the simulator's logical clock. A node ticks about every
// TickUnits units; message and storage delays are drawn in units, so
// several of them fit in one tick.
type Time int64

// TickUnits is the nominal length of one Tick in simulated time units.
const TickUnits Time = 10

type eventKind uint8

const (
	evDeliver eventKind = iota // a message arrives at node
	evTick                     // node's logical clock advances
	evStorage                  // node's oldest pending write becomes durable
	evAction                   // a scheduled closure: workload, fault, check
)

// event is one entry of the simulator's queue. Node events carry the
// incarnation of the node they were made for, so that a crash silently
// cancels them.
type event struct {
	at   Time
	seq  uint64 // tie-break: FIFO among events at the same time
	kind eventKind
	node int
	inc  uint64
	msg  wire.Message
	fn   func()
}

// eventQueue is a binary min-heap ordered by (at, seq), written out rather
// than through container/heap to keep interface conversions off the hot
// path.
type eventQueue []*event

func (q eventQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q *eventQueue) push(e *event) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) pop() *event {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = nil
	h = h[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
