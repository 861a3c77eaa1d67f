package config_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/mandate-raft/mandate/config"
	_ "github.com/mandate-raft/mandate/examples/ledger" // registers "ledger"
	_ "github.com/mandate-raft/mandate/examples/lock"   // registers "lock"
)

// write puts a YAML file in a fresh temporary directory.
func write(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mandate.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, yaml string) (*config.Config, error) {
	t.Helper()
	return config.Load(config.Options{Path: write(t, yaml), NoEnv: true})
}

const single = `
node_id: n1
raft:
  bind: 127.0.0.1:7001
  bootstrap: true
  peers: [{id: n1, address: 127.0.0.1:7001}]
`

func TestExampleFilesLoad(t *testing.T) {
	c, err := config.Load(config.Options{Path: "../config.example.yaml", NoEnv: true})
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if c.FSM != "ledger" || !c.Raft.Bootstrap || len(c.Raft.Peers) != 1 {
		t.Fatalf("config.example.yaml is not a single-node ledger: %+v", c)
	}
	ports, dirs := map[string]bool{}, map[string]bool{}
	for _, n := range []string{"n1", "n2", "n3"} {
		c, err := config.Load(config.Options{Path: "../examples/cluster/" + n + ".yaml", NoEnv: true})
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if c.NodeID != n || len(c.Raft.Peers) != 3 {
			t.Fatalf("%s: %+v", n, c)
		}
		for _, p := range []string{c.Raft.Bind, c.HTTP.Bind} {
			if ports[p] {
				t.Fatalf("%s reuses address %s", n, p)
			}
			ports[p] = true
		}
		if dirs[c.DataDir] {
			t.Fatalf("%s reuses data dir %s", n, c.DataDir)
		}
		dirs[c.DataDir] = true
	}
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "node_id: n7\n")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		NodeID: "n7", DataDir: "data/n7", FSM: "ledger", FSMOptions: map[string]any{},
		Raft: config.Raft{
			Bind: "127.0.0.1:7001", Advertise: "127.0.0.1:7001", ClusterID: "mandate",
			HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: time.Second, Store: "bolt",
			Snapshot: config.Snapshot{Threshold: 8192, Interval: 30 * time.Second, Retain: 3, TrailingLogs: 10240},
		},
		HTTP:    config.HTTP{Bind: "127.0.0.1:8001"},
		Log:     config.Log{Level: "info", Format: "text"},
		Metrics: config.Metrics{Enabled: true},
	}
	if got := config.Reload(&want, c); len(got.Changed) != 0 {
		t.Fatalf("defaults differ in %v: %+v", got.Changed, c)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	t.Setenv("MANDATE_RAFT_BIND", "127.0.0.1:7101")
	t.Setenv("MANDATE_RAFT_PEERS", "n1=127.0.0.1:7101, n2=127.0.0.1:7102")
	t.Setenv("MANDATE_RAFT_SNAPSHOT_RETAIN", "5")
	t.Setenv("MANDATE_LOG_LEVEL", "DEBUG")
	t.Setenv("MANDATE_METRICS_ENABLED", "false")
	c, err := config.Load(config.Options{Path: write(t, single)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Raft.Bind != "127.0.0.1:7101" || c.Raft.Advertise != "127.0.0.1:7101" {
		t.Fatalf("raft.bind %q advertise %q", c.Raft.Bind, c.Raft.Advertise)
	}
	if len(c.Raft.Peers) != 2 || c.Raft.Peers[1] != (config.Peer{ID: "n2", Address: "127.0.0.1:7102"}) {
		t.Fatalf("peers %+v", c.Raft.Peers)
	}
	if c.Raft.Snapshot.Retain != 5 || c.Log.Level != "debug" || c.Metrics.Enabled {
		t.Fatalf("env overrides not applied: %+v", c)
	}
}

func TestFlagsOverrideEnvironmentAndFile(t *testing.T) {
	t.Setenv("MANDATE_HTTP_BIND", "127.0.0.1:8101")
	fs := pflag.NewFlagSet("mandate", pflag.ContinueOnError)
	config.AddFlags(fs)
	if err := fs.Parse([]string{"--http-bind", "127.0.0.1:8201", "--log-format", "json"}); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(config.Options{Path: write(t, single+"log: {format: text}\n"), Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Bind != "127.0.0.1:8201" || c.Log.Format != "json" {
		t.Fatalf("flags not applied: http.bind %q log.format %q", c.HTTP.Bind, c.Log.Format)
	}
	// Flags not given leave the file's values alone.
	if c.Raft.Bind != "127.0.0.1:7001" || !c.Raft.Bootstrap {
		t.Fatalf("an unset flag overrode the file: %+v", c.Raft)
	}
}

func TestUnknownKeysNameTheClosestValidKey(t *testing.T) {
	cases := map[string]struct{ yaml, key, suggestion string }{
		"typo":            {"raft:\n  heartbeat_timout: 1s\n", `"raft.heartbeat_timout"`, `"raft.heartbeat_timeout"`},
		"wrong section":   {"heartbeat_timeout: 1s\n", `"heartbeat_timeout"`, `"raft.heartbeat_timeout"`},
		"nested typo":     {"raft:\n  snapshot: {retian: 2}\n", `"raft.snapshot.retian"`, `"raft.snapshot.retain"`},
		"top-level typo":  {"nodeid: n1\n", `"nodeid"`, `"node_id"`},
		"peer field typo": {"raft:\n  peers: [{id: n1, adress: 127.0.0.1:1}]\n", `"raft.peers[0].adress"`, `"address"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, "node_id: n1\n"+tc.yaml)
			if !errors.Is(err, config.ErrUnknownKey) {
				t.Fatalf("got %v, want ErrUnknownKey", err)
			}
			if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "did you mean "+tc.suggestion) {
				t.Fatalf("error %q should name %s and suggest %s", err, tc.key, tc.suggestion)
			}
		})
	}
}

func TestBadConfigurations(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // every fragment must be in the error
	}{
		{"missing node id", "raft: {bind: 127.0.0.1:7001}\n", []string{"node_id", "required"}},
		{"bad node id", "node_id: 'n 1'\n", []string{"node_id", "letters, digits"}},
		{"bad duration", single + "  heartbeat_timeout: fast\n", []string{"raft.heartbeat_timeout", `bad duration "fast"`}},
		{"duration without unit", single + "  election_timeout: 1000\n", []string{"raft.election_timeout", "no unit"}},
		{"election not above heartbeat", single + "  heartbeat_timeout: 1s\n  election_timeout: 1s\n", []string{"raft.election_timeout", "longer than raft.heartbeat_timeout"}},
		{"missing peer id", "node_id: n1\nraft:\n  peers: [{address: 127.0.0.1:7001}]\n", []string{"raft.peers[0].id", "missing"}},
		{"duplicate peer ids", "node_id: n1\nraft:\n  peers: [{id: n1, address: 127.0.0.1:7001}, {id: n1, address: 127.0.0.1:7002}]\n", []string{"raft.peers[1].id", `"n1" already used by raft.peers[0]`}},
		{"duplicate peer addresses", "node_id: n1\nraft:\n  peers: [{id: n1, address: 127.0.0.1:7001}, {id: n2, address: 127.0.0.1:7001}]\n", []string{"raft.peers[1].address", "also the address of"}},
		{"bootstrap without self", "node_id: n9\nraft:\n  bootstrap: true\n  peers: [{id: n1, address: 127.0.0.1:7001}]\n", []string{"raft.peers", `node_id "n9" is not among the peers`}},
		{"bootstrap without peers", "node_id: n1\nraft: {bootstrap: true}\n", []string{"raft.peers", "raft.bootstrap needs"}},
		{"self address differs", "node_id: n1\nraft:\n  bind: 127.0.0.1:7005\n  bootstrap: true\n  peers: [{id: n1, address: 127.0.0.1:7001}]\n", []string{"raft.peers[0].address", "differs from this node's raft.advertise"}},
		{"bootstrap and join", single + "  join: [127.0.0.1:8002]\n", []string{"raft.bootstrap", "raft.join"}},
		{"bad bind address", "node_id: n1\nraft: {bind: localhost}\n", []string{"raft.bind", "not host:port"}},
		{"bad port", "node_id: n1\nhttp: {bind: '127.0.0.1:99999'}\n", []string{"http.bind", "bad port"}},
		{"undialable advertise", "node_id: n1\nraft: {bind: '0.0.0.0:7001'}\n", []string{"raft.advertise", "unspecified address"}},
		{"bad join address", "node_id: n1\nraft: {join: ['ftp://x:1']}\n", []string{"raft.join[0]", "not http or https"}},
		{"same port twice", "node_id: n1\nhttp: {bind: 127.0.0.1:7001}\n", []string{"http.bind", "also raft.bind"}},
		{"unknown fsm", "node_id: n1\nfsm: ledgr\n", []string{"fsm", `unknown fsm "ledgr"`, "ledger", "lock"}},
		{"unknown store", "node_id: n1\nraft: {store: rocks}\n", []string{"raft.store", `"rocks" is not bolt, wal or memory`}},
		{"half tls", "node_id: n1\nraft: {tls: {cert_file: a.pem}}\n", []string{"raft.tls", "half configured"}},
		{"ca without cert", "node_id: n1\nraft: {tls: {ca_file: ca.pem}}\n", []string{"raft.tls", "half configured"}},
		{"zero retain", "node_id: n1\nraft: {snapshot: {retain: 0}}\n", []string{"raft.snapshot.retain", "at least 1"}},
		{"negative threshold", "node_id: n1\nraft: {snapshot: {threshold: -5}}\n", []string{"raft.snapshot.threshold", "negative"}},
		{"zero threshold", "node_id: n1\nraft: {snapshot: {threshold: 0}}\n", []string{"raft.snapshot.threshold", "at least 1"}},
		{"bad log level", "node_id: n1\nlog: {level: loud}\n", []string{"log.level", `"loud" is not one of`}},
		{"bad log format", "node_id: n1\nlog: {format: xml}\n", []string{"log.format", `"xml" is not text or json`}},
		{"bad bool", "node_id: n1\nmetrics: {enabled: maybe}\n", []string{"metrics.enabled", "true or false"}},
		{"section as value", "node_id: n1\nraft: fast\n", []string{`"raft" is a section`}},
		{"peers not a list", "node_id: n1\nraft: {peers: 5}\n", []string{"raft.peers", "list"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.yaml)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, config.ErrInvalid) && !errors.Is(err, config.ErrUnknownKey) {
				t.Fatalf("error %v wraps neither ErrInvalid nor ErrUnknownKey", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := load(t, `
node_id: n1
fsm: nope
raft:
  bind: nowhere
  heartbeat_timout: 5s
  election_timeout: soon
  store: paper
log: {level: loud}
`)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"fsm", "raft.bind", "raft.heartbeat_timout", "raft.election_timeout", "raft.store", "log.level"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("the error does not report %s:\n%v", key, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n < 6 {
		t.Fatalf("%d problems reported, want 6:\n%v", n, err)
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := config.Load(config.Options{Path: filepath.Join(t.TempDir(), "absent.yaml")}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	if _, err := load(t, "node_id: [unclosed\n"); err == nil {
		t.Fatal("malformed YAML accepted")
	}
}

// freeAddr returns a 127.0.0.1 address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCheckHost(t *testing.T) {
	dir := t.TempDir()
	good := &config.Config{DataDir: filepath.Join(dir, "data", "n1"), Raft: config.Raft{Bind: freeAddr(t)}, HTTP: config.HTTP{Bind: freeAddr(t)}}
	if err := good.CheckHost(); err != nil {
		t.Fatalf("a free host failed the check: %v", err)
	}
	if st, err := os.Stat(good.DataDir); err != nil || !st.IsDir() {
		t.Fatalf("data_dir was not created: %v", err)
	}
	if entries, _ := os.ReadDir(good.DataDir); len(entries) != 0 {
		t.Fatalf("the probe file was left behind: %v", entries)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := &config.Config{
		DataDir: filepath.Join(notADir, "n1"),
		Raft:    config.Raft{Bind: busy.Addr().String(), TLS: config.TLS{CertFile: filepath.Join(dir, "missing.pem")}},
		HTTP:    config.HTTP{Bind: freeAddr(t)},
	}
	err = bad.CheckHost()
	if !errors.Is(err, config.ErrHost) {
		t.Fatalf("got %v, want ErrHost", err)
	}
	for _, w := range []string{"data_dir", "raft.bind", "already in use", "raft.tls.cert_file"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestReloadSortsChanges(t *testing.T) {
	old, err := load(t, single)
	if err != nil {
		t.Fatal(err)
	}
	next, err := load(t, single+"  election_timeout: 2s\n  snapshot: {retain: 5}\n  cluster_id: other\nlog: {level: debug}\n")
	if err != nil {
		t.Fatal(err)
	}
	ch := config.Reload(old, next)
	if strings.Join(ch.Live, ",") != "log.level,raft.election_timeout" {
		t.Fatalf("live changes %v", ch.Live)
	}
	if strings.Join(ch.Restart, ",") != "raft.cluster_id,raft.snapshot.retain" || !ch.NeedsRestart() {
		t.Fatalf("restart changes %v", ch.Restart)
	}
	if len(ch.Changed) != 4 {
		t.Fatalf("changed %v", ch.Changed)
	}
	if ch := config.Reload(old, old); len(ch.Changed) != 0 || ch.NeedsRestart() {
		t.Fatalf("a config differs from itself: %+v", ch)
	}
}

func TestKeysAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys() {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not describe %s", k)
		}
	}
}
