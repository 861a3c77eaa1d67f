package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/config"
	"github.com/mandate-raft/mandate/wire"
)

func TestOptionsAreValidatedAllAtOnce(t *testing.T) {
	_, err := New(Options{Store: "tape", Bootstrap: true, Peers: []wire.Server{{ID: "x", Address: "a:1"}},
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("err = %v; want ErrInvalidOptions", err)
	}
	for _, want := range []string{"node id is empty", "raft bind", `store "tape"`, "among the peers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestADataDirectoryOfAnotherClusterIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := checkClusterID(dir, "alpha"); err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := checkClusterID(dir, "alpha"); err != nil {
		t.Fatalf("restart in the same cluster: %v", err)
	}
	if err := checkClusterID(dir, "beta"); !errors.Is(err, ErrWrongCluster) || !strings.Contains(err.Error(), "alpha") {
		t.Fatalf("start in another cluster: %v; want ErrWrongCluster naming alpha", err)
	}
	if _, err := os.Stat(filepath.Join(dir, clusterIDFile+".tmp")); !os.IsNotExist(err) {
		t.Errorf("a temporary file was left behind: %v", err)
	}
	// And through New, before any store is opened.
	_, err := New(Options{NodeID: "n1", DataDir: dir, FSM: "ledger", RaftBind: "127.0.0.1:0", ClusterID: "beta",
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	if !errors.Is(err, ErrWrongCluster) {
		t.Fatalf("New on another cluster's data: %v; want ErrWrongCluster", err)
	}
}

func TestReloadAppliesTheLogLevelAndListsTheRest(t *testing.T) {
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: io.Discard})
	d := &Daemon{opts: Options{Logger: logger}}
	old := &config.Config{NodeID: "n1", Log: config.Log{Level: "info"}, HTTP: config.HTTP{Bind: "127.0.0.1:8001"}}
	next := &config.Config{NodeID: "n1", Log: config.Log{Level: "debug"}, HTTP: config.HTTP{Bind: "127.0.0.1:9001"}}
	next.Raft.ElectionTimeout = time.Second
	applied, restart := d.Reload(old, next)
	if fmt.Sprint(applied) != "[log.level]" || !logger.IsDebug() {
		t.Errorf("applied %v, debug %v; want the log level applied", applied, logger.IsDebug())
	}
	if fmt.Sprint(restart) != "[http.bind raft.election_timeout]" {
		t.Errorf("need restart: %v", restart)
	}
}

func TestReloadChangesTheRaftTimeoutsAndSnapshotPolicyOfARunningNode(t *testing.T) {
	d, err := New(Options{
		NodeID: "n1", FSM: "ledger", RaftBind: "127.0.0.1:0", Store: "memory",
		Bootstrap: true, Peers: []wire.Server{{ID: "n1", Address: "127.0.0.1:1"}},
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	old := &config.Config{NodeID: "n1", Log: config.Log{Level: "info"}}
	old.Raft.HeartbeatTimeout, old.Raft.ElectionTimeout = 100*time.Millisecond, time.Second
	next := *old
	next.Raft.ElectionTimeout = 3 * time.Second
	next.Raft.Snapshot.Threshold = 77
	next.Raft.Snapshot.Retain = 9
	applied, restart := d.Reload(old, &next)
	if fmt.Sprint(applied) != "[raft.election_timeout raft.snapshot.threshold]" || fmt.Sprint(restart) != "[raft.snapshot.retain]" {
		t.Errorf("applied %v, need restart %v", applied, restart)
	}
	if rc := d.Node().ReloadableConfig(); rc.ElectionTimeout != 3*time.Second || rc.SnapshotThreshold != 77 {
		t.Errorf("the node runs with %+v after the reload", rc)
	}
	bad := next
	bad.Raft.HeartbeatTimeout = 5 * time.Second // above the election timeout
	applied, restart = d.Reload(&next, &bad)
	if len(applied) != 0 || fmt.Sprint(restart) != "[raft.heartbeat_timeout]" {
		t.Errorf("a refused raft reload: applied %v, need restart %v", applied, restart)
	}
}

func TestANewNodeThatKnowsNoServerIsWarnedAbout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		peers []wire.Server
		warn  bool
	}{
		{"no peers, no join, no bootstrap", nil, true},
		{"the members listed in peers", []wire.Server{{ID: "n1", Address: "127.0.0.1:1"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			d, err := New(Options{
				NodeID: "n4", FSM: "ledger", RaftBind: "127.0.0.1:0", Store: "memory", Peers: tc.peers,
				Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn}),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if got := strings.Contains(logs.String(), "knows no other server"); got != tc.warn {
				t.Errorf("warned %v, want %v; log:\n%s", got, tc.warn, logs.String())
			}
		})
	}
}
