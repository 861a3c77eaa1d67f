package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/daemon/demo"
)

// The end-to-end test runs a 3-node ledger cluster of `mandate serve`
// processes from YAML files and drives it with the command's own client
// commands through a SIGKILL of the leader, a restart, a SIGSTOP of the
// leader, a fourth node joining and leaving, and a SIGTERM of everyone.

type e2eNode struct {
	id, raft, http, config string
	cmd                    *exec.Cmd
	log                    *bytes.Buffer
	done                   chan struct{} // closed when the process exited
	exitErr                error         // set before done is closed
}

// nodeBinary returns the program that runs the nodes: this test binary,
// which acts as the mandate command when asMainEnv is set (see TestMain).
// It is the command's own code, built with the test's flags, so the run
// needs no separate build.
func nodeBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func (n *e2eNode) start(t *testing.T, bin string) {
	t.Helper()
	n.log = &bytes.Buffer{}
	n.cmd = exec.Command(bin, "serve", "--config", n.config)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.Env = append(os.Environ(), asMainEnv+"=1")
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func(c *exec.Cmd, n *e2eNode, done chan struct{}) {
		n.exitErr = c.Wait()
		close(done)
	}(n.cmd, n, n.done)
}

// cli runs one client command of the mandate command line (in-process:
// the client side needs no process of its own) and returns its stdout.
func cli(t *testing.T, _ string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), args, &out, &errOut); code != 0 {
		return out.String(), fmt.Errorf("exit %d: %s", code, strings.TrimSpace(errOut.String()))
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
	began := time.Now()
	bin := nodeBinary(t)
	dir := t.TempDir()
	// Ports below the ephemeral range, so that a restarted node finds its
	// own still free.
	ports, err := demo.FreePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, p := range ports {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
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
	t.Logf("%s at %s", "first leader", time.Since(began).Round(time.Millisecond))
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
	t.Logf("%s at %s", "new leader after SIGKILL", time.Since(began).Round(time.Millisecond))
	if newLead == lead {
		t.Fatal("the killed node still leads")
	}
	eventually(t, "a transfer after the crash", func() error {
		_, err := cli(t, bin, "ledger", "transfer", "alice", "bob", "30", "--request-id", "after-crash", "--timeout", "3s", "--addr", allAddrs)
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
	t.Logf("%s at %s", "restarted node caught up", time.Since(began).Round(time.Millisecond))
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
	t.Logf("SIGSTOP at %s", time.Since(began).Round(time.Millisecond))
	leader(awake)
	t.Logf("a leader without the paused node at %s", time.Since(began).Round(time.Millisecond))
	eventually(t, "a deposit while the old leader is paused", func() error {
		t0 := time.Now()
		// A short timeout: a proposal forwarded on a connection the
		// transport has not yet found dead is lost, and only a retry (the
		// same request id, so applied once) gets through quickly.
		_, err := cli(t, bin, "ledger", "deposit", "bob", "1", "--request-id", "while-paused", "--timeout", "3s", "--addr", awake[0].http+","+awake[1].http)
		if err != nil {
			t.Logf("deposit while paused failed after %s: %v", time.Since(t0).Round(time.Millisecond), err)
		}
		return err
	})
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s at %s", "SIGCONT", time.Since(began).Round(time.Millisecond))
	out, err := cli(t, bin, "ledger", "balance", "bob", "--json", "--timeout", "5s", "--addr", paused.http)
	if err == nil {
		var a client.Account
		if jerr := json.Unmarshal([]byte(out), &a); jerr != nil || a.Balance != 131 {
			t.Fatalf("the resumed old leader served a stale linearizable read: %q (want bob = 131)", out)
		}
	} else if !strings.Contains(err.Error(), "no_leader") && !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("the resumed old leader refused the read with an unexpected error: %v", err)
	}

	// A fourth node joins through the HTTP API (raft.join), receives the
	// ledger, and is removed again with the CLI.
	n4 := &e2eNode{id: "n4", raft: addrs[6], http: addrs[7], config: filepath.Join(dir, "n4.yaml")}
	yaml := fmt.Sprintf("node_id: n4\ndata_dir: %q\nfsm: ledger\nraft:\n  bind: %s\n  join: [%s]\n"+
		"  heartbeat_timeout: 50ms\n  election_timeout: 500ms\nhttp:\n  bind: %s\nlog: {level: warn}\n",
		filepath.Join(dir, "n4"), n4.raft, allAddrs, n4.http)
	if err := os.WriteFile(n4.config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	n4.start(t, bin)
	nodes = append(nodes, n4)
	t.Logf("n4 started at %s", time.Since(began).Round(time.Millisecond))
	eventually(t, "n4 joining as a voter and holding the ledger", func() error {
		out, err := cli(t, bin, "cluster", "members", "--json", "--addr", allAddrs)
		if err != nil {
			return err
		}
		var m client.MembersResponse
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			return err
		}
		voters := 0
		for _, s := range m.Members {
			if s.Role == "voter" {
				voters++
			}
		}
		if len(m.Members) != 4 || voters != 4 {
			return fmt.Errorf("members: %+v", m.Members)
		}
		out, err = cli(t, bin, "ledger", "balance", "bob", "--json", "--addr", n4.http)
		if err != nil {
			return err
		}
		var a client.Account
		if err := json.Unmarshal([]byte(out), &a); err != nil || a.Balance != 131 {
			return fmt.Errorf("bob on n4: %q", out)
		}
		return nil
	})
	t.Logf("n4 holds the ledger at %s", time.Since(began).Round(time.Millisecond))
	// The promotion may still be committing: a change right behind it is
	// refused as pending (a retryable 503) until it is.
	eventually(t, "removing n4", func() error {
		out, err := cli(t, bin, "cluster", "remove", "n4", "--addr", allAddrs)
		if err == nil && strings.Contains(out, "n4") {
			return fmt.Errorf("n4 still listed:\n%s", out)
		}
		return err
	})

	t.Logf("n4 removed at %s", time.Since(began).Round(time.Millisecond))
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
