package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mandate-raft/mandate/fsm"
)

// sum is a custom FSM for the fsm commands: a command is a number added
// to the sum; the query "sum" reads it.
type sum struct {
	mu    sync.Mutex
	total int
}

func (s *sum) Apply(cmd fsm.Command) fsm.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := strconv.Atoi(string(cmd.Data))
	if err != nil {
		return fsm.Result{Err: fmt.Errorf("not a number: %q", cmd.Data)}
	}
	s.total += n
	return fsm.Result{Value: s.total}
}

func (s *sum) Snapshot() (fsm.Snapshot, error) { return nil, errors.New("no snapshots in this test") }
func (s *sum) Restore(io.Reader) error         { return errors.New("no snapshots in this test") }

func (s *sum) Query(q []byte) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(q) != "sum" {
		return nil, fmt.Errorf("unknown query %q", q)
	}
	return map[string]int{"sum": s.total}, nil
}

func init() {
	fsm.Register("cli-test-sum", func(map[string]any) (fsm.FSM, error) { return &sum{}, nil })
}

func TestFSMCommandsAgainstACustomFSM(t *testing.T) {
	addr := startNode(t, "cli-test-sum")
	code, out, errOut := runCLI(t, "fsm", "apply", "40", "--addr", addr)
	if code != 0 || !strings.Contains(out, "ok: committed at index") || !strings.Contains(out, "\n40\n") {
		t.Fatalf("apply 40: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "fsm", "apply", "Mg==", "--base64", "--addr", addr, "--json") // "2"
	var a struct {
		Index  uint64
		Result int
	}
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a.Result != 42 || a.Index == 0 {
		t.Fatalf("apply --base64 --json: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "fsm", "query", "sum", "--addr", addr)
	if code != 0 || strings.TrimSpace(out) != `{"sum":42}` {
		t.Errorf("query: exit %d, %q; want {\"sum\":42}", code, out)
	}
	code, out, _ = runCLI(t, "fsm", "query", "sum", "--stale", "--addr", addr)
	if code != 0 || strings.TrimSpace(out) != `{"sum":42}` {
		t.Errorf("stale query: exit %d, %q", code, out)
	}
	code, _, errOut = runCLI(t, "fsm", "apply", "two", "--addr", addr)
	if code != 1 || !strings.Contains(errOut, `not a number: "two"`) || !strings.Contains(errOut, "fsm_rejected") {
		t.Errorf("apply of a command the FSM refuses: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "fsm", "apply", "1", "--request-id", "r1", "--addr", addr)
	if code != 1 || !strings.Contains(errOut, "fsm/session") {
		t.Errorf("request id for an FSM without sessions: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "fsm", "apply", "%%", "--base64", "--addr", addr)
	if code != 2 {
		t.Errorf("--base64 with bad base64: exit %d, stderr %q; want 2", code, errOut)
	}
}
