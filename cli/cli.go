// Package cli is the mandate command line as a library: the daemon (serve),
// the clients of a running cluster (ledger, lock, fsm, cluster), offline
// tools (recover) and the demonstrations (demo, bench).
//
// A program that runs its own state machine under the daemon registers it
// and hands control to Main:
//
//	func main() {
//		fsm.Register("counter", newCounter)
//		cli.Main()
//	}
//
// Its binary then serves `serve --config node.yaml` with fsm: counter in
// the file, and every other command of mandate works against it.
package cli

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Main runs the command line of the process (os.Args) and exits with its
// code. SIGINT and SIGTERM cancel the command's context, which shuts a
// serving node down cleanly.
func Main() {
	os.Exit(Execute())
}

// Execute runs the command line of the process (os.Args) with its
// standard output and error and returns the exit code (see Run), for a
// main that has something to do before exiting.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRootCommand(os.Stdout, os.Stderr)
	// Help and usage name the program as it was called: a user's own
	// binary is not called mandate.
	if name := filepath.Base(os.Args[0]); name != "" && name != "." {
		root.Use = name
	}
	return runRoot(ctx, root, os.Args[1:], os.Stderr)
}
