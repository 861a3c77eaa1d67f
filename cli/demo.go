package cli

import (
	"encoding/json"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/daemon/demo"
)

func newDemoCmd() *cobra.Command {
	var opts demo.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a 3-node ledger cluster on 127.0.0.1, kill its leader, and check the books",
		Long: `demo starts three mandate nodes as child processes (temporary directory, free
ports, bolt stores), funds accounts, drives concurrent transfers with request
ids, SIGKILLs the leader, reports how long until writes succeed again, brings
the node back, and checks that the audit reconciles, that every balance is
what the acknowledged transfers imply (exactly once), that all three
replicas hold the same ledger, and that the clients' history of transfers
and linearizable reads is linearizable (porcupine). It exits 0 on a PASS
verdict, non-zero with the reason otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			opts.Out = out
			if asJSON {
				opts.Out = cmd.ErrOrStderr()
			}
			opts.Live = !asJSON && isTerminal(out)
			sum, err := demo.Run(cmd.Context(), opts)
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(sum); jerr != nil && err == nil {
					err = jerr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Duration, "duration", 9*time.Second, "length of the transfer workload (the leader is killed at 1/3, restarted at 2/3)")
	f.IntVar(&opts.Clients, "clients", 8, "concurrent clients")
	f.IntVar(&opts.Accounts, "accounts", 20, "number of accounts")
	f.Int64Var(&opts.InitialBalance, "initial-balance", 1000, "deposit into each account before the transfers")
	f.DurationVar(&opts.HeartbeatTimeout, "heartbeat-timeout", 50*time.Millisecond, "nodes' Raft heartbeat interval")
	f.DurationVar(&opts.ElectionTimeout, "election-timeout", 500*time.Millisecond, "nodes' Raft election timeout")
	f.BoolVar(&opts.KeepDir, "keep", false, "keep the working directory (configs, logs, data)")
	f.DurationVar(&opts.CheckTimeout, "check-timeout", 60*time.Second, "bound on the linearizability check (a timeout is inconclusive, not a pass)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout (progress goes to stderr)")
	return cmd
}

// isTerminal reports whether w is a character device (a terminal), where
// a progress line can be redrawn in place.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
