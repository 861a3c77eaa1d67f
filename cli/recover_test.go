package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/config"
	"github.com/mandate-raft/mandate/daemon"
	"github.com/mandate-raft/mandate/logstore/ondisk"
)

// freePort returns a 127.0.0.1 address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startFromConfig runs the node a configuration file describes,
// in-process, until the returned stop function is called.
func startFromConfig(t *testing.T, path string) (d *daemon.Daemon, stop func()) {
	t.Helper()
	cfg, err := config.Load(config.Options{Path: path, NoEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := daemon.FromConfig(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d, err = daemon.New(opts); err != nil {
		t.Fatal(err)
	}
	return d, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
}

// runWithInput runs the command line with stdin reading in.
func runWithInput(t *testing.T, in string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCommand(&out, &errOut)
	root.SetIn(strings.NewReader(in))
	root.SetArgs(args)
	code := 0
	if err := root.ExecuteContext(t.Context()); err != nil {
		fmt.Fprintln(&errOut, "error:", err)
		code = 1
	}
	return code, out.String(), errOut.String()
}

// A node of a 3-node cluster whose two peers are gone for good never
// leads; recover rewrites its membership to itself alone, after which it
// elects itself and serves writes, with what it had kept. So on each
// durable log store engine.
func TestRecoverRewritesALostQuorumToTheSurvivor(t *testing.T) {
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) { recoverLostQuorum(t, engine) })
	}
}

func recoverLostQuorum(t *testing.T, engine string) {
	dir := t.TempDir()
	raftAddrs := []string{freePort(t), freePort(t), freePort(t)}
	httpAddrs := []string{freePort(t), freePort(t), freePort(t)}
	nodeYAML := func(i int, dataDir string) string {
		return fmt.Sprintf(`node_id: n%d
data_dir: %s
fsm: ledger
raft:
  store: %s
  bind: %s
  bootstrap: true
  peers:
    - {id: n1, address: %s}
    - {id: n2, address: %s}
    - {id: n3, address: %s}
  heartbeat_timeout: 20ms
  election_timeout: 200ms
http:
  bind: %s
log: {level: error}
`, i+1, dataDir, engine, raftAddrs[i], raftAddrs[0], raftAddrs[1], raftAddrs[2], httpAddrs[i])
	}
	yaml := nodeYAML(0, filepath.Join(dir, "data"))
	raftAddr := raftAddrs[0]
	path := filepath.Join(dir, "n1.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// The cluster forms (every founding member must be up for that), and
	// then n2 and n3 are gone for good.
	var stops []func()
	for i := 1; i < 3; i++ {
		p := filepath.Join(dir, fmt.Sprintf("n%d.yaml", i+1))
		if err := os.WriteFile(p, []byte(nodeYAML(i, filepath.Join(dir, fmt.Sprintf("data%d", i+1)))), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stop := startFromConfig(t, p)
		stops = append(stops, stop)
	}
	d1, stop := startFromConfig(t, path)
	c1, err := client.New([]string{d1.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	formCtx, formCancel := context.WithTimeout(t.Context(), 20*time.Second)
	for {
		st, err := c1.Status(formCtx)
		if err == nil && st.LeaderID != "" && len(st.Members) == 3 {
			break
		}
		if formCtx.Err() != nil {
			t.Fatalf("the cluster never formed (last status %+v, %v)", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	formCancel()
	c1.Close()
	for _, s := range stops {
		s()
	}

	code, _, errOut := runCLI(t, "recover", "--config", path, "--inspect")
	if code != 1 || !strings.Contains(errOut, "is running") {
		t.Errorf("recover of a running node: exit %d, stderr %q; want 1 and a refusal", code, errOut)
	}
	stop()

	code, out, errOut := runCLI(t, "recover", "--config", path, "--inspect")
	if code != 0 || !strings.Contains(out, "last log position: term") {
		t.Fatalf("inspect: exit %d\n%s%s", code, out, errOut)
	}
	before := out

	code, _, errOut = runWithInput(t, "no\n", "recover", "--config", path)
	if code != 1 || !strings.Contains(errOut, "DANGER") || !strings.Contains(errOut, "not confirmed") {
		t.Errorf("recover answered no: exit %d, stderr %q; want a warning and a refusal", code, errOut)
	}
	if _, out, _ := runCLI(t, "recover", "--config", path, "--inspect"); out != before {
		t.Errorf("an unconfirmed recover changed the log:\n%s\nthen\n%s", before, out)
	}
	code, _, errOut = runCLI(t, "recover", "--config", path, "--peers", "n2=127.0.0.1:1", "--yes")
	if code != 2 || !strings.Contains(errOut, "must include this node") {
		t.Errorf("recover without this node among the peers: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut = runWithInput(t, "n1\n", "recover", "--config", path)
	if code != 0 || !strings.Contains(out, "recovered n1: membership {n1="+raftAddr+"}") {
		t.Fatalf("confirmed recover: exit %d\n%s%s", code, out, errOut)
	}

	d, stop := startFromConfig(t, path)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	c, err := client.New([]string{d.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		st, err := c.Status(ctx)
		if err == nil && st.State == "Leader" {
			if len(st.Members) != 1 || st.Members[0].ID != "n1" {
				t.Errorf("members after recovery: %+v, want n1 alone", st.Members)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the recovered node never led (last status %+v, %v)", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, out, errOut = runCLI(t, "ledger", "deposit", "alice", "5", "--addr", d.HTTPAddr())
	if code != 0 || !strings.Contains(out, "alice: 5") {
		t.Fatalf("deposit on the recovered node: exit %d\n%s%s", code, out, errOut)
	}

	// A backup is the snapshot directory; restored into an empty data
	// directory and recovered, it is a cluster again with the state the
	// snapshot holds.
	if code, out, errOut = runCLI(t, "cluster", "snapshot", "--addr", d.HTTPAddr()); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s%s", code, out, errOut)
	}
	stop()
	stopped = true
	restored := filepath.Join(dir, "restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(restored, "snapshots"), os.DirFS(filepath.Join(dir, "data", "snapshots"))); err != nil {
		t.Fatal(err)
	}
	path2 := filepath.Join(dir, "restored.yaml")
	if err := os.WriteFile(path2, []byte(strings.Replace(yaml, filepath.Join(dir, "data"), restored, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "recover", "--config", path2, "--inspect")
	if code != 0 || !strings.Contains(out, "last log position: term") || strings.Contains(out, "term 0 index 0") {
		t.Fatalf("inspect of a restored backup: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(restored, "raft")); !os.IsNotExist(err) {
		t.Errorf("inspect created a log in the restored directory: %v", err)
	}
	if code, out, errOut = runCLI(t, "recover", "--config", path2, "--yes"); code != 0 {
		t.Fatalf("recover of a restored backup: exit %d\n%s%s", code, out, errOut)
	}
	d2, stop2 := startFromConfig(t, path2)
	defer stop2()
	for {
		code, out, _ = runCLI(t, "ledger", "balance", "alice", "--addr", d2.HTTPAddr(), "--timeout", "2s")
		if code == 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "alice: 5") {
		t.Errorf("balance on the node restored from the backup: exit %d, %q; want alice: 5", code, out)
	}
}
