package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
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
the flags below. SIGINT or SIGTERM shut it down cleanly. SIGHUP reloads the file: the log
level, the raft timeouts and the snapshot policy (threshold, interval,
trailing_logs) change at once; other changed keys are logged as needing a
restart.`,
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
			stop := watchReload(d, cfg, path, cmd, opts.Logger)
			defer stop()
			return d.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "the node's YAML configuration file")
	config.AddFlags(cmd.Flags())
	return cmd
}

// watchReload reloads the configuration on SIGHUP until the returned stop
// function is called.
func watchReload(d *daemon.Daemon, running *config.Config, path string, cmd *cobra.Command, log hclog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			next, err := config.Load(config.Options{Path: path, Flags: cmd.Flags()})
			if err != nil {
				log.Error("configuration not reloaded", "error", err)
				continue
			}
			applied, restart := d.Reload(running, next)
			log.Info("configuration reloaded", "applied", applied, "need-restart", restart)
			adoptApplied(running, next, applied)
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-finished
	}
}

// adoptApplied copies the keys the daemon applied from next into the
// running configuration, so that the next reload compares against what is
// in force.
func adoptApplied(running, next *config.Config, applied []string) {
	for _, k := range applied {
		switch k {
		case "log.level":
			running.Log.Level = next.Log.Level
		case "raft.heartbeat_timeout":
			running.Raft.HeartbeatTimeout = next.Raft.HeartbeatTimeout
		case "raft.election_timeout":
			running.Raft.ElectionTimeout = next.Raft.ElectionTimeout
		case "raft.snapshot.threshold":
			running.Raft.Snapshot.Threshold = next.Raft.Snapshot.Threshold
		case "raft.snapshot.interval":
			running.Raft.Snapshot.Interval = next.Raft.Snapshot.Interval
		case "raft.snapshot.trailing_logs":
			running.Raft.Snapshot.TrailingLogs = next.Raft.Snapshot.TrailingLogs
		}
	}
}
