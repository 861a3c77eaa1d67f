package main

import (
	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/config"
	"github.com/mandate-raft/mandate/daemon"
	_ "github.com/mandate-raft/mandate/examples/ledger" // registers the "ledger" FSM
	_ "github.com/mandate-raft/mandate/examples/lock"   // registers the "lock" FSM
)

func newServeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run a node from a YAML configuration file",
		Long: `serve runs one node: its Raft log and snapshots in data_dir, the Raft
transport on raft.bind and the HTTP API on http.bind. Keys can be overridden
by MANDATE_* environment variables (MANDATE_RAFT_BIND for raft.bind) and by
the flags below. SIGINT or SIGTERM shut it down cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.Options{Path: path, Flags: cmd.Flags()})
			if err != nil {
				return err
			}
			if err := cfg.CheckHost(); err != nil {
				return err
			}
			opts, err := daemon.FromConfig(cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			opts.Version = version
			d, err := daemon.New(opts)
			if err != nil {
				return err
			}
			return d.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "the node's YAML configuration file")
	config.AddFlags(cmd.Flags())
	return cmd
}
