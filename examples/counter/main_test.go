package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Journey 3 end to end: build this binary, run a node of it from
// counter.yaml (ports and data directory moved by MANDATE_ variables),
// apply and query through HTTP and through the binary's own CLI, restart
// it, and find the state kept.

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type node struct {
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

func startNode(t *testing.T, bin string, env []string) *node {
	t.Helper()
	n := &node{log: &bytes.Buffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(bin, "serve", "--config", "counter.yaml")
	n.cmd.Env = append(os.Environ(), env...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop ends the node with SIGTERM (a clean shutdown), or SIGKILL if it
// does not exit.
func (n *node) stop(t *testing.T) {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
		t.Errorf("the node ignored SIGTERM; log:\n%s", n.log)
	}
}

func post(t *testing.T, url, body string, out any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("POST %s: undecodable answer: %v", url, err)
	}
	return resp.StatusCode
}

func get(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: undecodable answer: %v", url, err)
	}
	return resp.StatusCode
}

// waitLeader polls the node's status until it leads.
func waitLeader(t *testing.T, n *node, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var st struct{ State string }
		if resp, err := http.Get(base + "/v1/status"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.State == "Leader" {
				return
			}
		}
		select {
		case <-n.done:
			t.Fatalf("the node exited; log:\n%s", n.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the node never led; log:\n%s", n.log)
}

type applied struct {
	Index  uint64
	Result json.RawMessage
	Error  struct{ Code, Message string }
}

func TestCounterBinaryServesItsFSMFromYAML(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example and runs it as a process")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the example with")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "counter")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	raftAddr, httpAddr := freeAddr(t), freeAddr(t)
	env := []string{
		"MANDATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"MANDATE_RAFT_BIND=" + raftAddr,
		"MANDATE_RAFT_PEERS=c1=" + raftAddr,
		"MANDATE_HTTP_BIND=" + httpAddr,
		"MANDATE_LOG_LEVEL=warn",
	}
	base := "http://" + httpAddr
	n := startNode(t, bin, env)
	waitLeader(t, n, base)

	var a applied
	if code := post(t, base+"/v1/fsm/apply", `{"command":"hits 5"}`, &a); code != 200 || string(a.Result) != "5" {
		t.Fatalf("apply hits 5: %d %+v (%s)", code, a, a.Result)
	}
	for range 2 { // the same request id twice is applied once
		if code := post(t, base+"/v1/fsm/apply", `{"command":"hits 10","request_id":"r-1"}`, &a); code != 200 || string(a.Result) != "15" {
			t.Fatalf("apply hits 10 with request id r-1: %d %+v (%s); want 15 both times", code, a, a.Result)
		}
	}
	if code := post(t, base+"/v1/fsm/apply", `{"command":"hits"}`, &a); code != 422 || a.Error.Code != "fsm_rejected" || !strings.Contains(a.Error.Message, "NAME DELTA") {
		t.Errorf("malformed command: %d %+v; want 422 fsm_rejected with the FSM's message", code, a)
	}
	var q struct{ Result json.RawMessage }
	if code := get(t, base+"/v1/fsm/query?q=hits", &q); code != 200 || string(q.Result) != "15" {
		t.Errorf("query hits: %d %s, want 15", code, q.Result)
	}

	// The user's binary is the whole mandate command line.
	out, err := exec.Command(bin, "fsm", "apply", "misses 2", "--addr", httpAddr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok: committed") {
		t.Errorf("counter fsm apply: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "fsm", "query", "", "--addr", httpAddr).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != `{"hits":15,"misses":2}` {
		t.Errorf("counter fsm query of all counters: %v, %q", err, out)
	}
	out, err = exec.Command(bin, "cluster", "snapshot", "--addr", httpAddr).CombinedOutput()
	if err != nil {
		t.Errorf("counter cluster snapshot: %v\n%s", err, out)
	}
	if code := post(t, base+"/v1/fsm/apply", `{"command":"hits 1"}`, &a); code != 200 {
		t.Fatalf("apply after the snapshot: %d %+v", code, a)
	}

	// A restart rebuilds the state from the snapshot and the log after it.
	n.stop(t)
	n = startNode(t, bin, env)
	waitLeader(t, n, base)
	if code := get(t, base+"/v1/fsm/query?q=", &q); code != 200 || string(q.Result) != `{"hits":16,"misses":2}` {
		t.Errorf("after a restart: %d %s, want hits 16 and misses 2; log:\n%s", code, q.Result, n.log)
	}
	if code := post(t, base+"/v1/fsm/apply", `{"command":"hits 10","request_id":"r-1"}`, &a); code != 200 || string(a.Result) != "15" {
		t.Errorf("request id r-1 retried after the restart: %d %s; want the remembered 15", code, a.Result)
	}
}
