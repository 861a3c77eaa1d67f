package inmem

import (
	"container/heap"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

type outbound struct {
	m    wire.Message
	addr string
}

// pending is a delivery waiting for its delay to pass.
type pending struct {
	at  time.Time
	seq uint64 // breaks ties in send order
	out outbound
}

type pendingHeap []pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// peer is the outbound side of one link: a queue drained by one goroutine,
// which applies the network's faults and calls the receiver's handler.
type peer struct {
	t     *Transport
	id    wire.NodeID
	queue chan outbound
	done  chan struct{}

	waiting pendingHeap
	seq     uint64
	// last is the latest delivery time given on a FIFO link, so that a
	// shorter delay drawn later does not overtake.
	last time.Time
}

func newPeer(t *Transport, id wire.NodeID) *peer {
	return &peer{t: t, id: id, queue: make(chan outbound, QueueSize), done: make(chan struct{})}
}

func (p *peer) run() {
	defer p.t.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if len(p.waiting) > 0 {
			timer.Reset(time.Until(p.waiting[0].at))
			due = timer.C
		}
		select {
		case <-p.done:
			return
		case out := <-p.queue:
			p.dispatch(out)
		case <-due:
			now := time.Now()
			for len(p.waiting) > 0 && !p.waiting[0].at.After(now) {
				p.deliver(heap.Pop(&p.waiting).(pending).out)
			}
		}
	}
}

// dispatch routes one message: delivered now, scheduled, lost or blocked.
func (p *peer) dispatch(out outbound) {
	n := p.t.net
	delays, reorder, blocked := n.route(p.t.addr, out.addr, &out.m)
	if blocked {
		p.t.reportUnreachable(p.id)
		return
	}
	now := time.Now()
	for _, d := range delays {
		at := now.Add(d)
		if !reorder {
			if at.Before(p.last) {
				at = p.last
			}
			p.last = at
		}
		if !at.After(now) && (len(p.waiting) == 0 || reorder) {
			p.deliver(out)
			continue
		}
		p.seq++
		heap.Push(&p.waiting, pending{at: at, seq: p.seq, out: out})
	}
}

// deliver hands out to the receiver, unless the link went down while it
// was delayed.
func (p *peer) deliver(out outbound) {
	target, up := p.t.net.linkUp(p.t.addr, out.addr)
	if !up {
		p.t.net.count(&p.t.net.stats.Blocked)
		p.t.reportUnreachable(p.id)
		return
	}
	if target.deliver(out.m) {
		p.t.net.count(&p.t.net.stats.Delivered)
	}
}
