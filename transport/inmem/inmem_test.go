package inmem

import (
	"testing"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (a, b transport.Transport) {
		n := NewNetwork(1)
		ta, err := n.NewTransport("addr-a")
		if err != nil {
			t.Fatal(err)
		}
		tb, err := n.NewTransport("addr-b")
		if err != nil {
			t.Fatal(err)
		}
		return ta, tb
	})
}
