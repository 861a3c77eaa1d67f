package unreachable

import (
	"context"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// A flood of failed sends to one peer yields one pending report for it,
// and a later failure after delivery reports again.
func TestReportsCoalescePerPeerAndResumeAfterDelivery(t *testing.T) {
	r := New(4)
	for i := 0; i < 100; i++ {
		r.Report("a")
	}
	r.Report("b")
	if got := len(r.queue); got != 2 {
		t.Fatalf("%d reports queued after a flood for a and one for b, want 2", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan wire.NodeID, 8)
	done := make(chan struct{})
	go func() { r.Run(ctx, func(id wire.NodeID) { got <- id }); close(done) }()
	for _, want := range []wire.NodeID{"a", "b"} {
		if id := <-got; id != want {
			t.Fatalf("delivered %q, want %q", id, want)
		}
	}
	r.Report("a")
	select {
	case id := <-got:
		if id != "a" {
			t.Fatalf("delivered %q, want a again", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second report for a, after the first was delivered, never arrived")
	}
	cancel()
	<-done
}

// Report never blocks, even with a full queue and nobody running.
func TestReportNeverBlocksWhenTheQueueIsFull(t *testing.T) {
	r := New(1)
	r.Report("a")
	r.Report("b") // dropped: the queue holds one
	if r.pending["b"] {
		t.Fatal("b marked pending although its report was dropped")
	}
}
