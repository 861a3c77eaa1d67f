//go:build unix

package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain builds the mandate binary once (without -race, so that the
// daemons run at their normal speed) for every test of the package; with
// -short it builds nothing and the process tests skip.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // StartCluster skips every process test
	}
	dir, err := os.MkdirTemp("", "mandate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: no go tool to build the daemon with; skipping the package")
		return 0
	}
	Binary = filepath.Join(dir, "mandate")
	build := exec.Command(gobin, "build", "-o", Binary, "github.com/mandate-raft/mandate/cmd/mandate")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build of the daemon: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
