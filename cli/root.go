package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/client"
)

// version is set at link time (-ldflags
// "-X github.com/mandate-raft/mandate/cli.version=..."); without it, the
// module version or VCS revision recorded by the Go toolchain is used.
var version = buildVersion()

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// Run executes the command line args and returns the process exit code:
// 0 on success, 1 on failure, 2 on a usage error. It prints the error, if
// any, to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runRoot(ctx, NewRootCommand(stdout, stderr), args, stderr)
}

// runRoot executes root with args and turns its outcome into an exit code.
func runRoot(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "error:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError marks an error in how the command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// NewRootCommand returns the whole mandate command tree writing to stdout
// and stderr, for a program that wants to add commands of its own or run
// it with other arguments. Errors come back from Execute unprinted (the
// caller prints them); flag errors are wrapped so that Run can tell them
// apart and exit 2.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "mandate",
		Short: "Mandate: a replicated state machine on its own Raft engine",
		Long: `Mandate runs a deterministic state machine (a ledger, a lock service, or
your own) on a cluster of nodes with Raft.

  mandate demo                      a 3-node ledger cluster on 127.0.0.1, a leader crash, a verdict
  mandate serve --config n1.yaml    run one node
  mandate ledger balance alice      talk to a running cluster (--addr any node's HTTP address)
  mandate fsm apply "hits 5"        send a command to your own FSM (fsm query to read it)
  mandate recover --inspect ...     offline tools for a stopped node (docs/operations.md)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newLedgerCmd(),
		newLockCmd(),
		newFSMCmd(),
		newRecoverCmd(),
		newClusterCmd(),
		newVersionCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "mandate", version)
			return nil
		},
	}
}

// clientFlags are the flags every client subcommand shares.
type clientFlags struct {
	addrs   []string
	json    bool
	timeout time.Duration
	stale   bool
	bounded bool
}

func (f *clientFlags) register(cmd *cobra.Command, withStale bool) {
	def := []string{"127.0.0.1:8001"}
	if env := os.Getenv("MANDATE_ADDR"); env != "" {
		def = []string{env}
	}
	cmd.PersistentFlags().StringSliceVar(&f.addrs, "addr", def, "HTTP address of any node (repeat or comma-separate several; env MANDATE_ADDR)")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print the answer as JSON")
	cmd.PersistentFlags().DurationVar(&f.timeout, "timeout", 15*time.Second, "give up after this long")
	if withStale {
		cmd.PersistentFlags().BoolVar(&f.stale, "stale", false, "reads: serve from the reached node's local replica as it is, instead of a linearizable read")
		cmd.PersistentFlags().BoolVar(&f.bounded, "bounded", false, "reads: serve from the local replica if it is at most 1000 entries behind a leader heard from within an election timeout")
	}
}

func (f *clientFlags) client() (*client.Client, error) {
	return client.New(f.addrs)
}

func (f *clientFlags) consistency() client.Consistency {
	switch {
	case f.stale:
		return client.Stale
	case f.bounded:
		return client.Bounded
	}
	return client.Linearizable
}

// withTimeout bounds a client command.
func (f *clientFlags) withTimeout(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), f.timeout)
}

// output prints v as indented JSON with --json, else calls human.
func (f *clientFlags) output(cmd *cobra.Command, v any, human func(w io.Writer)) error {
	w := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(w)
	return nil
}
