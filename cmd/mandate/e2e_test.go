package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// The end-to-end test builds the real binary with `go build`, runs a
// 3-node ledger cluster of `mandate serve` processes from YAML files, and
// drives it with the binary's own client commands through a SIGKILL of
// the leader, a restart, and a SIGTERM of everyone.

type e2eNode struct {
	id, raft, http, config string
	cmd                    *exec.Cmd
	log                    *bytes.Buffer
	done                   chan struct{} // closed when the process exited
	exitErr                error         // set before done is closed
}

func buildBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "mandate")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func (n *e2eNode) start(t *testing.T, bin string) {
	t.Helper()
	n.log = &bytes.Buffer{}
	n.cmd = exec.Command(bin, "serve", "--config", n.config)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.Env = append(os.Environ(), asMainEnv+"=") // a real binary; no test hook
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func(c *exec.Cmd, n *e2eNode, done chan struct{}) {
		n.exitErr = c.Wait()
		close(done)
	}(n.cmd, n, n.done)
}

// cli runs one client command of the binary and returns its stdout.
func cli(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

func status(t *testing.T, bin, addr string) (client.Status, error) {
	out, err := cli(t, bin, "cluster", "status", "--json", "--timeout", "2s", "--addr", addr)
	if err != nil {
		return client.Status{}, err
	}
	var s client.Status
	return s, json.Unmarshal([]byte(out), &s)
}

// eventually retries f every 50 ms for up to 30 s.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	t.Fatalf("%s: still failing after 30s: %v", what, err)
}

func TestEndToEndClusterOfRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	var ls []net.Listener
	var addrs []string
	for range 6 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	nodes := make([]*e2eNode, 3)
	var peers strings.Builder
	for i := range nodes {
		nodes[i] = &e2eNode{id: fmt.Sprintf("n%d", i+1), raft: addrs[2*i], http: addrs[2*i+1], config: filepath.Join(dir, fmt.Sprintf("n%d.yaml", i+1))}
		fmt.Fprintf(&peers, "    - {id: %s, address: %s}\n", nodes[i].id, nodes[i].raft)
	}
	for _, n := range nodes {
		yaml := fmt.Sprintf("node_id: %s\ndata_dir: %q\nfsm: ledger\nraft:\n  bind: %s\n  bootstrap: true\n  peers:\n%s"+
			"  heartbeat_timeout: 50ms\n  election_timeout: 500ms\nhttp:\n  bind: %s\nlog: {level: warn}\n",
			n.id, filepath.Join(dir, n.id), n.raft, peers.String(), n.http)
		if err := os.WriteFile(n.config, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		n.start(t, bin)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			select {
			case <-n.done:
			default:
				_ = n.cmd.Process.Kill()
				<-n.done
			}
		}
	})
	allAddrs := nodes[0].http + "," + nodes[1].http + "," + nodes[2].http

	leader := func(among []*e2eNode) *e2eNode {
		var lead *e2eNode
		eventually(t, "a leader all running nodes agree on", func() error {
			lead = nil
			for _, n := range among {
				s, err := status(t, bin, n.http)
				if err != nil {
					return err
				}
				if s.State == "Leader" {
					lead = n
				}
				if s.LeaderID == "" || (lead != nil && s.LeaderID != lead.id) {
					return fmt.Errorf("%s sees leader %q", n.id, s.LeaderID)
				}
			}
			if lead == nil {
				return fmt.Errorf("nobody leads")
			}
			return nil
		})
		return lead
	}
	lead := leader(nodes)
	for i, acct := range []string{"alice", "bob"} {
		out, err := cli(t, bin, "ledger", "deposit", acct, "100", "--addr", nodes[i].http)
		if err != nil || !strings.Contains(out, acct+": 100") {
			t.Fatalf("deposit %s: %q %v", acct, out, err)
		}
	}

	// SIGKILL the leader; the others elect a new one and take writes.
	if err := lead.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-lead.done
	var rest []*e2eNode
	for _, n := range nodes {
		if n != lead {
			rest = append(rest, n)
		}
	}
	newLead := leader(rest)
	if newLead == lead {
		t.Fatal("the killed node still leads")
	}
	eventually(t, "a transfer after the crash", func() error {
		_, err := cli(t, bin, "ledger", "transfer", "alice", "bob", "30", "--request-id", "after-crash", "--addr", allAddrs)
		return err
	})

	// The killed node comes back from its bolt store and catches up.
	lead.start(t, bin)
	eventually(t, "the restarted node catching up", func() error {
		s, err := status(t, bin, lead.http)
		if err != nil {
			return err
		}
		out, err := cli(t, bin, "ledger", "balance", "bob", "--stale", "--json", "--addr", lead.http)
		if err != nil {
			return err
		}
		var a client.Account
		if err := json.Unmarshal([]byte(out), &a); err != nil || a.Balance != 130 {
			return fmt.Errorf("bob holds %q on %s (state %s)", out, lead.id, s.State)
		}
		return nil
	})
	var audits []string
	for _, n := range nodes {
		out, err := cli(t, bin, "ledger", "audit", "--stale", "--addr", n.http)
		if err != nil {
			t.Fatal(err)
		}
		// The applied index may differ by no-op entries; compare the ledger.
		audits = append(audits, out[:strings.Index(out, "applied index")])
	}
	if audits[0] != audits[1] || audits[1] != audits[2] || !strings.Contains(audits[0], "reconciles     true") || !strings.Contains(audits[0], "total          200") {
		t.Fatalf("replicas' audits differ or do not reconcile:\n%s", strings.Join(audits, "\n"))
	}

	// A paused leader (SIGSTOP past an election timeout) that resumes
	// must not serve a stale linearizable read: the cluster moved on
	// without it.
	paused := leader(nodes)
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var awake []*e2eNode
	for _, n := range nodes {
		if n != paused {
			awake = append(awake, n)
		}
	}
	leader(awake)
	eventually(t, "a deposit while the old leader is paused", func() error {
		_, err := cli(t, bin, "ledger", "deposit", "bob", "1", "--request-id", "while-paused", "--addr", awake[0].http+","+awake[1].http)
		return err
	})
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, bin, "ledger", "balance", "bob", "--json", "--timeout", "5s", "--addr", paused.http)
	if err == nil {
		var a client.Account
		if jerr := json.Unmarshal([]byte(out), &a); jerr != nil || a.Balance != 131 {
			t.Fatalf("the resumed old leader served a stale linearizable read: %q (want bob = 131)", out)
		}
	} else if !strings.Contains(err.Error(), "no_leader") && !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("the resumed old leader refused the read with an unexpected error: %v", err)
	}

	// SIGTERM shuts every node down cleanly.
	for _, n := range nodes {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range nodes {
		select {
		case <-n.done:
			if n.exitErr != nil {
				t.Errorf("%s exited with %v after SIGTERM; log:\n%s", n.id, n.exitErr, n.log)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s did not stop within 15s of SIGTERM", n.id)
		}
	}
}
