package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// asMainEnv makes the test binary behave as the mandate command, so that
// the demo can re-execute it (os.Executable) to run its nodes.
const asMainEnv = "MANDATE_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		Main() // as the command does, signals included
	}
	os.Exit(m.Run())
}

// runCLI runs the command line in-process and returns its exit code and
// output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDemoRunsAClusterThroughALeaderCrashAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	t.Setenv(asMainEnv, "1") // the demo's children are this binary
	start := time.Now()
	code, out, errOut := runCLI(t, "demo", "--duration", "4s", "--clients", "4")
	t.Logf("demo took %s; output:\n%s%s", time.Since(start).Round(time.Millisecond), out, errOut)
	if code != 0 {
		t.Fatalf("demo exited %d", code)
	}
	for _, want := range []string{"SIGKILL leader", "restarted", "3 of 3 agree", "are linearizable (porcupine", "verdict: PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(out, "working directory kept") {
		t.Error("the demo kept its working directory after a PASS")
	}
}

func TestVersionAndUsageErrors(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "mandate ") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
	code, _, errOut := runCLI(t, "ledger", "deposit", "alice")
	if code != 2 || !strings.Contains(errOut, "accepts 2 arg(s)") {
		t.Errorf("deposit with one argument: exit %d, stderr %q; want 2 and a usage message", code, errOut)
	}
	code, _, errOut = runCLI(t, "ledger", "deposit", "alice", "ten")
	if code != 2 || !strings.Contains(errOut, `amount "ten"`) {
		t.Errorf("deposit of a non-number: exit %d, stderr %q", code, errOut)
	}
	code, _, _ = runCLI(t, "cluster", "status", "--no-such-flag")
	if code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	code, _, errOut = runCLI(t, "bench")
	if code != 2 || !strings.Contains(errOut, "--addr or --embedded") {
		t.Errorf("bench without a mode: exit %d, stderr %q", code, errOut)
	}
}
