package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/mandate-raft/mandate/daemon"
	_ "github.com/mandate-raft/mandate/examples/ledger" // registers the "ledger" FSM
	"github.com/mandate-raft/mandate/wire"
)

func newServeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run a node from a YAML configuration file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError{fmt.Errorf("--config FILE is required")}
			}
			opts, err := loadOptions(path)
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
	return cmd
}

// loadOptions is a stop-gap reader of the configuration file until the
// config package lands.
func loadOptions(path string) (daemon.Options, error) {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return daemon.Options{}, fmt.Errorf("read %s: %w", path, err)
	}
	var peers []wire.Server
	var raw []map[string]any
	if err := v.UnmarshalKey("raft.peers", &raw); err != nil {
		return daemon.Options{}, err
	}
	for _, p := range raw {
		peers = append(peers, wire.Server{ID: wire.NodeID(fmt.Sprint(p["id"])), Address: fmt.Sprint(p["address"])})
	}
	level := hclog.LevelFromString(v.GetString("log.level"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return daemon.Options{
		NodeID: v.GetString("node_id"), DataDir: v.GetString("data_dir"),
		FSM: v.GetString("fsm"), FSMOptions: v.GetStringMap("fsm_options"),
		RaftBind: v.GetString("raft.bind"), RaftAdvertise: v.GetString("raft.advertise"),
		Bootstrap: v.GetBool("raft.bootstrap"), Peers: peers, Join: v.GetStringSlice("raft.join"),
		ClusterID:        v.GetString("raft.cluster_id"),
		HeartbeatTimeout: v.GetDuration("raft.heartbeat_timeout"), ElectionTimeout: v.GetDuration("raft.election_timeout"),
		Store:    strings.ToLower(v.GetString("raft.store")),
		HTTPBind: v.GetString("http.bind"),
		Logger:   hclog.New(&hclog.LoggerOptions{Name: "mandate", Level: level, Output: os.Stderr, TimeFormat: time.RFC3339Nano}),
	}, nil
}
