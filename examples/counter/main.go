// Command counter is journey 3 of the README: your own FSM (Counters,
// named counters) run by the mandate daemon. It is the whole mandate
// command line plus one registered FSM:
//
//	go build -o counter ./examples/counter
//	./counter serve --config examples/counter/counter.yaml &
//	./counter fsm apply "hits 5" --addr 127.0.0.1:8101
//	./counter fsm query hits --addr 127.0.0.1:8101
//	curl -s -XPOST 127.0.0.1:8101/v1/fsm/apply -d '{"command":"hits 1","request_id":"r-1"}'
//	curl -s '127.0.0.1:8101/v1/fsm/query?q=hits'
//
// The FSM is wrapped in fsm/session, which makes a write carrying a
// request_id exactly-once.
package main

import (
	"github.com/mandate-raft/mandate/cli"
	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

func main() {
	fsm.Register("counter", func(map[string]any) (fsm.FSM, error) {
		return session.New(&Counters{n: map[string]int64{}}, session.Options{}), nil
	})
	cli.Main()
}
