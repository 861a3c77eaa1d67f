package tcp

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// Five nodes all sending to each other at once: every message arrives,
// in order per sender, and nothing is delivered to the wrong node.
func TestFullMeshDeliversEverythingInOrder(t *testing.T) {
	const nodes, perPeer = 5, 300
	ids := make([]wire.NodeID, nodes)
	trs := make([]*Transport, nodes)
	recs := make([]*transporttest.Recorder, nodes)
	for i := range ids {
		ids[i] = wire.NodeID(fmt.Sprintf("n%d", i+1))
		trs[i], recs[i] = started(t, testConfig(t, ids[i]))
	}
	for i := range trs {
		for j := range trs {
			trs[i].SetPeer(ids[j], trs[j].Addr())
		}
	}
	var wg sync.WaitGroup
	for i := range trs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 1; k <= perPeer; k++ {
				for j := range trs {
					if j != i {
						trs[i].Send(wire.Message{Type: wire.MsgApp, From: ids[i], To: ids[j], Term: 1, Index: uint64(k),
							Entries: []wire.Entry{{Index: uint64(k), Term: 1, Data: []byte("payload")}}})
					}
				}
			}
		}(i)
	}
	wg.Wait()
	for j := range recs {
		next := map[wire.NodeID]uint64{}
		for n := 0; n < (nodes-1)*perPeer; n++ {
			var m wire.Message
			select {
			case m = <-recs[j].Msgs:
			case <-time.After(20 * time.Second):
				t.Fatalf("%s received %d of %d messages", ids[j], n, (nodes-1)*perPeer)
			}
			if m.To != ids[j] {
				t.Fatalf("%s received a message for %s", ids[j], m.To)
			}
			if m.Index != next[m.From]+1 {
				t.Fatalf("%s got index %d from %s after %d", ids[j], m.Index, m.From, next[m.From])
			}
			next[m.From] = m.Index
		}
	}
	// A message is counted received once the handler has taken it, a
	// moment after the test may have seen it: wait for the counters.
	deadline := time.Now().Add(20 * time.Second)
	for i, tr := range trs {
		for {
			s := tr.Stats()
			if s.MessagesSent == (nodes-1)*perPeer && s.MessagesReceived == (nodes-1)*perPeer && s.MessagesDropped == 0 {
				break
			}
			if s.MessagesDropped != 0 || time.Now().After(deadline) {
				t.Fatalf("%s stats %+v: want %d sent and received, none dropped", ids[i], s, (nodes-1)*perPeer)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
