package cli

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/daemon"
	"github.com/mandate-raft/mandate/wire"
)

// startNode runs a single-node cluster in-process (memory stores) and
// returns its HTTP address once it leads.
func startNode(t *testing.T, fsmName string) string {
	t.Helper()
	d, err := daemon.New(daemon.Options{
		NodeID: "n1", FSM: fsmName, RaftBind: "127.0.0.1:0", Store: "memory",
		Bootstrap: true, Peers: []wire.Server{{ID: "n1", Address: "127.0.0.1:1"}},
		HTTPBind:         "127.0.0.1:0",
		HeartbeatTimeout: 20 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: io.Discard}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	c, err := client.New([]string{d.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := c.Status(context.Background()); err == nil && st.State == "Leader" {
			return d.HTTPAddr()
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the single node never became leader")
	return ""
}

func TestLedgerCommandsAgainstARunningNode(t *testing.T) {
	addr := startNode(t, "ledger")
	code, out, errOut := runCLI(t, "ledger", "deposit", "alice", "100", "--addr", addr, "--request-id", "req-1")
	if code != 0 || !strings.Contains(out, "ok: committed at index") || !strings.Contains(out, "alice: 100") {
		t.Fatalf("deposit: exit %d\n%s%s", code, out, errOut)
	}
	// The same request id again is answered, not applied again.
	runCLI(t, "ledger", "deposit", "alice", "100", "--addr", addr, "--request-id", "req-1")
	runCLI(t, "ledger", "deposit", "bob", "1", "--addr", addr)
	code, out, _ = runCLI(t, "ledger", "transfer", "alice", "bob", "40", "--addr", addr)
	if code != 0 || !strings.Contains(out, "alice: 60") || !strings.Contains(out, "bob: 41") {
		t.Fatalf("transfer: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "ledger", "balance", "alice", "--addr", addr, "--json")
	var a client.Account
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a.Balance != 60 {
		t.Fatalf("balance --json: exit %d, %q", code, out)
	}
	code, out, _ = runCLI(t, "ledger", "accounts", "--addr", addr, "--stale")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Fatalf("accounts: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "ledger", "audit", "--addr", addr)
	if code != 0 || !strings.Contains(out, "reconciles     true") || !strings.Contains(out, "deposited      101") {
		t.Fatalf("audit: exit %d\n%s", code, out)
	}
	code, _, errOut = runCLI(t, "ledger", "withdraw", "bob", "1000", "--addr", addr)
	if code != 1 || !strings.Contains(errOut, "insufficient_funds") {
		t.Fatalf("overdraft: exit %d, stderr %q; want 1 and insufficient_funds", code, errOut)
	}
	code, _, errOut = runCLI(t, "ledger", "balance", "nobody", "--addr", addr)
	if code != 1 || !strings.Contains(errOut, "unknown_account") {
		t.Fatalf("unknown account: exit %d, stderr %q", code, errOut)
	}
}

func TestLockAndClusterCommandsAgainstARunningNode(t *testing.T) {
	addr := startNode(t, "lock")
	code, out, errOut := runCLI(t, "lock", "acquire", "db", "--owner", "w1", "--ttl", "1m", "--addr", addr, "--json")
	var l client.Lock
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Holder != "w1" || l.Token == 0 {
		t.Fatalf("acquire: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "lock", "acquire", "db", "--owner", "w2", "--addr", addr)
	if code != 1 || !strings.Contains(errOut, "lock_held") {
		t.Fatalf("acquire of a held lock: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = runCLI(t, "lock", "show", "db", "--addr", addr)
	if code != 0 || !strings.Contains(out, `held by "w1"`) {
		t.Fatalf("show: exit %d\n%s", code, out)
	}
	code, _, errOut = runCLI(t, "lock", "release", "db", "--owner", "w1", "--addr", addr)
	if code != 1 || !strings.Contains(errOut, "token") {
		t.Fatalf("release without a token: exit %d, stderr %q", code, errOut)
	}
	tok := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "token ", 2)[1], " ", 2)[0])
	code, out, errOut = runCLI(t, "lock", "release", "db", "--owner", "w1", "--token", tok, "--addr", addr)
	if code != 0 || !strings.Contains(out, "free") {
		t.Fatalf("release: exit %d\n%s%s", code, out, errOut)
	}

	code, out, _ = runCLI(t, "cluster", "status", "--addr", addr)
	if code != 0 || !strings.Contains(out, "n1 (Leader)") || !strings.Contains(out, "lock") {
		t.Fatalf("cluster status: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "cluster", "members", "--addr", addr)
	if code != 0 || !strings.Contains(out, "n1") || !strings.Contains(out, "voter") {
		t.Fatalf("cluster members: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "cluster", "snapshot", "--addr", addr)
	if code != 0 || !strings.Contains(out, "snapshot at index") {
		t.Fatalf("cluster snapshot: exit %d\n%s", code, out)
	}
	code, out, errOut = runCLI(t, "cluster", "add", "n2", "127.0.0.1:7002", "--learner", "--addr", addr)
	if code != 0 || !strings.Contains(out, "n2") || !strings.Contains(out, "learner") {
		t.Fatalf("cluster add --learner: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "cluster", "remove", "n2", "--addr", addr)
	if code != 0 || strings.Contains(out, "n2") {
		t.Fatalf("cluster remove: exit %d\n%s%s", code, out, errOut)
	}
}
