package tcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// A peer that restarts on the same address (its process killed and run
// again) gets every message sent after it is back, the first one
// included, on both lanes: the connections to the old process are found
// dead and replaced, not written into. Not every message is retried by
// Raft: a proposal a follower forwarded is not.
func TestMessagesAfterPeerRestartOnSameAddressAreDelivered(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", withTLS), func(t *testing.T) {
			var ca *testCA
			if withTLS {
				ca = newTestCA(t, "cluster-ca")
			}
			config := func(id wire.NodeID, bind string) Config {
				cfg := testConfig(t, id)
				if bind != "" {
					cfg.BindAddr = bind
				}
				if ca != nil {
					cfg.TLS = ca.tlsConfig(t, string(id))
				}
				return cfg
			}
			a, _ := started(t, config("a", ""))
			b, rb := started(t, config("b", ""))
			addr := b.Addr()
			a.SetPeer("b", addr)

			next := uint64(0)
			// sendAndExpect sends two proposals (bulk lane) and two
			// heartbeats (control lane) and waits for all four.
			sendAndExpect := func(rec *transporttest.Recorder, round string) {
				t.Helper()
				want := map[string]bool{}
				for i := 0; i < 2; i++ {
					next++
					prop := wire.Message{Type: wire.MsgProp, From: "a", To: "b", Index: next, Entries: []wire.Entry{{Data: []byte("cmd")}}}
					beat := wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1, Commit: next}
					want[fmt.Sprintf("prop-%d", next)] = true
					want[fmt.Sprintf("beat-%d", next)] = true
					a.Send(prop)
					a.Send(beat)
				}
				for len(want) > 0 {
					m := rec.NextMsg(t) // fails the test if one never comes
					switch m.Type {
					case wire.MsgProp:
						delete(want, fmt.Sprintf("prop-%d", m.Index))
					case wire.MsgHeartbeat:
						delete(want, fmt.Sprintf("beat-%d", m.Commit))
					default:
						t.Fatalf("%s: unexpected %v", round, m)
					}
				}
			}

			sendAndExpect(rb, "before any restart")
			for round := 1; round <= 3; round++ {
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				// A process takes longer than this to die and come back;
				// the lane peeks at a connection idle that long before
				// writing to it.
				time.Sleep(2 * peekAfterIdle)
				b, rb = started(t, config("b", addr))
				sendAndExpect(rb, fmt.Sprintf("right after restart %d", round))
			}
		})
	}
}
