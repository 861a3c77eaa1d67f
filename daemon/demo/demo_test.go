package demo

import (
	"os"
	"testing"

	"github.com/mandate-raft/mandate/config"
	_ "github.com/mandate-raft/mandate/examples/ledger" // config validates the fsm name
)

// The demo writes its nodes' configuration files itself; they must stay
// valid for the config package, or the nodes would refuse to start.
func TestDemoConfigFilesAreValidConfigurations(t *testing.T) {
	opts := Options{}
	if err := opts.setDefaults(); err != nil {
		t.Fatal(err)
	}
	nodes, err := newNodes(t.TempDir(), 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		c, err := config.Load(config.Options{Path: n.config, NoEnv: true})
		if err != nil {
			data, _ := os.ReadFile(n.config)
			t.Fatalf("%s: %v\n%s", n.id, err, data)
		}
		if c.NodeID != n.id || c.HTTP.Bind != n.httpAddr || c.Raft.Bind != n.raftAddr || len(c.Raft.Peers) != 3 ||
			!c.Raft.Bootstrap || c.Raft.Store != "bolt" || c.Raft.ElectionTimeout != opts.ElectionTimeout {
			t.Errorf("%s: loaded %+v", n.id, c)
		}
	}
}
