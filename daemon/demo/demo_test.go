package demo

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

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

func TestTheLedgerModelRejectsAStaleReadAndAcceptsConcurrentOnes(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	build := func(readCall, readRet int, bal int64) *history {
		h := newHistory(t0)
		h.add(0, transferIn{from: 0, to: 1, amount: 30}, transferOut{ok: true, fromBal: 70, toBal: 130}, at(0), at(10))
		h.add(1, readIn{acct: 0}, readOut{bal: bal}, at(readCall), at(readRet))
		return h
	}
	cases := []struct {
		name string
		h    *history
		want porcupine.CheckResult
	}{
		{"read after the transfer sees it", build(20, 30, 70), porcupine.Ok},
		{"read after the transfer misses it", build(20, 30, 100), porcupine.Illegal},
		{"concurrent read may miss it", build(5, 15, 100), porcupine.Ok},
	}
	for _, c := range cases {
		res, n, _, err := c.h.check(context.Background(), 2, 100, 10*time.Second)
		if err != nil || res != c.want || n != 2 {
			t.Errorf("%s: %v (%d ops, %v), want %v", c.name, res, n, err, c.want)
		}
	}
	// A refused transfer must be refused by the model too, and balances
	// reported by an acknowledged one must match.
	h := newHistory(t0)
	h.add(0, transferIn{from: 0, to: 1, amount: 500}, transferOut{}, at(0), at(1))
	h.add(0, transferIn{from: 0, to: 1, amount: 50}, transferOut{ok: true, fromBal: 50, toBal: 151}, at(2), at(3))
	if res, _, _, _ := h.check(context.Background(), 2, 100, 10*time.Second); res != porcupine.Illegal {
		t.Errorf("wrong reported balance: %v, want Illegal", res)
	}
	// An abandoned transfer that was never settled makes the check refuse.
	h = newHistory(t0)
	h.abandon(0, "r1", transferIn{from: 0, to: 1, amount: 1}, at(0))
	if _, _, _, err := h.check(context.Background(), 2, 100, time.Second); err == nil {
		t.Error("an unsettled transfer was checked")
	}
}

func TestFreePortsAreDistinctListenableAndOutsideTheEphemeralRange(t *testing.T) {
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	eph := ephemeralStart()
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d chosen twice in %v", p, ports)
		}
		seen[p] = true
		if eph > 0 && p >= eph {
			t.Errorf("port %d is in the ephemeral range (from %d)", p, eph)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d is not free: %v", p, err)
			continue
		}
		l.Close()
	}
}

func TestNodesDoNotInheritConfigurationOverrides(t *testing.T) {
	t.Setenv("MANDATE_HTTP_BIND", "127.0.0.1:1")
	t.Setenv("MANDATE_RAFT_SNAPSHOT_RETAIN", "9")
	t.Setenv("MANDATE_UNRELATED", "kept")
	env := strings.Join(childEnv(), "\n")
	if strings.Contains(env, "MANDATE_HTTP_BIND") || strings.Contains(env, "MANDATE_RAFT_SNAPSHOT_RETAIN") {
		t.Errorf("a configuration override reached the nodes")
	}
	if !strings.Contains(env, "MANDATE_UNRELATED=kept") {
		t.Errorf("an unrelated variable was dropped")
	}
}
