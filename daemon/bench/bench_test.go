package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/daemon"
	_ "github.com/mandate-raft/mandate/examples/ledger"
	"github.com/mandate-raft/mandate/wire"
)

func TestRunLoadCountsSuccessesAndFailuresAndOrdersPercentiles(t *testing.T) {
	boom := errors.New("boom")
	r := runLoad(context.Background(), 4, 300*time.Millisecond, func(ctx context.Context, c int, seq uint64) error {
		time.Sleep(time.Duration(seq%3) * time.Millisecond)
		if seq%5 == 4 {
			return boom
		}
		return nil
	}, nil, false)
	if r.Ops == 0 || r.Errors == 0 || r.FirstError != "boom" {
		t.Fatalf("result = %+v; want successes, failures and the first error", r)
	}
	if r.Ops < 3*r.Errors {
		t.Errorf("ops %d, errors %d: one op in five fails, so ops should be about 4x errors", r.Ops, r.Errors)
	}
	if !(r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.P999 && r.P999 <= r.Max) || r.Max == 0 {
		t.Errorf("percentiles out of order: %+v", r)
	}
	var buf bytes.Buffer
	if err := Print(&buf, []Result{r}, false); err != nil || !strings.Contains(buf.String(), "p99.9") || !strings.Contains(buf.String(), "first error") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
	buf.Reset()
	var back []Result
	if err := Print(&buf, []Result{r}, true); err != nil || json.Unmarshal(buf.Bytes(), &back) != nil || back[0].Ops != r.Ops {
		t.Errorf("JSON: %v\n%s", err, buf.String())
	}
}

func TestEmbeddedBenchmarkCommitsThroughThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	r, err := RunEmbedded(context.Background(), EmbeddedOptions{
		Clients: 4, Duration: 500 * time.Millisecond, Payload: 64, Workload: "apply-any",
		Dir: t.TempDir(), Logger: hclog.NewNullLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || r.Mode != "embedded" || r.Payload != 64 {
		t.Fatalf("result = %+v; want committed operations", r)
	}
	// A loaded machine may stall a node past an election timeout; the only
	// errors acceptable are those of a leader change.
	if r.Errors != 0 && !strings.Contains(r.FirstError, "leader") {
		t.Fatalf("result = %+v; want no error but a leader change", r)
	}
}

func TestHTTPBenchmarkDrivesALedgerNode(t *testing.T) {
	d, err := daemon.New(daemon.Options{
		NodeID: "n1", FSM: "ledger", RaftBind: "127.0.0.1:0", Store: "memory",
		Bootstrap: true, Peers: []wire.Server{{ID: "n1", Address: "127.0.0.1:1"}}, HTTPBind: "127.0.0.1:0",
		HeartbeatTimeout: 20 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: io.Discard}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	for deadline := time.Now().Add(20 * time.Second); d.Node().State().String() != "Leader"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the node never became leader")
		}
	}
	for _, w := range []string{"transfer", "stale-balance"} {
		r, err := RunHTTP(context.Background(), HTTPOptions{Addrs: []string{d.HTTPAddr()}, Clients: 4, Duration: 300 * time.Millisecond, Workload: w, Accounts: 10})
		if err != nil || r.Ops == 0 || r.Errors != 0 {
			t.Errorf("%s: %+v, %v; want operations and no errors", w, r, err)
		}
	}
	if _, err := RunHTTP(context.Background(), HTTPOptions{Addrs: []string{d.HTTPAddr()}, Workload: "nope"}); err == nil {
		t.Error("an unknown workload was accepted")
	}
}
