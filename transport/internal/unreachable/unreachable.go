// Package unreachable hands "peer unreachable" reports from a transport's
// send paths to its handler without ever blocking a sender, one report
// pending per peer at a time, so a flood of failed sends to one peer
// yields one report, not a flood.
package unreachable

import (
	"context"
	"sync"

	"github.com/mandate-raft/mandate/wire"
)

// Reporter queues reports and delivers them from Run. The zero value is
// not usable; create one with New. It is safe for concurrent use.
type Reporter struct {
	mu      sync.Mutex
	pending map[wire.NodeID]bool
	queue   chan wire.NodeID
}

// New returns a Reporter that holds up to capacity distinct peers' reports
// waiting for Run; a report beyond that is dropped (the next failed send
// reports again).
func New(capacity int) *Reporter {
	return &Reporter{pending: map[wire.NodeID]bool{}, queue: make(chan wire.NodeID, capacity)}
}

// Report queues a report for id unless one is already pending. It never
// blocks.
func (r *Reporter) Report(id wire.NodeID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[id] {
		return
	}
	select {
	case r.queue <- id:
		r.pending[id] = true
	default:
	}
}

// Run calls deliver for each queued report, in order, until ctx ends. A
// peer may be reported again as soon as its report is taken from the queue.
func (r *Reporter) Run(ctx context.Context, deliver func(wire.NodeID)) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-r.queue:
			r.mu.Lock()
			delete(r.pending, id)
			r.mu.Unlock()
			deliver(id)
		}
	}
}
