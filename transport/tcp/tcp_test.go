package tcp

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

// testConfig is a config for node id on a free loopback port, logging to
// the test.
func testConfig(t testing.TB, id wire.NodeID) Config {
	return Config{
		ID:        id,
		ClusterID: "test-cluster",
		BindAddr:  "127.0.0.1:0",
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: string(id), Level: hclog.Warn, Output: hclog.DefaultOutput,
		}),
	}
}

func newTestTransport(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (a, b transport.Transport) {
		return newTestTransport(t, testConfig(t, transporttest.A)), newTestTransport(t, testConfig(t, transporttest.B))
	})
}
