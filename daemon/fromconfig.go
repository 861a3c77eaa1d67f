package daemon

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/config"
	"github.com/mandate-raft/mandate/transport/tcp"
	"github.com/mandate-raft/mandate/wire"
)

// FromConfig turns a loaded, validated configuration into Options, with a
// root logger writing to logOut at the configured level and format.
func FromConfig(c *config.Config, logOut io.Writer) (Options, error) {
	if logOut == nil {
		logOut = os.Stderr
	}
	level := hclog.LevelFromString(c.Log.Level)
	if level == hclog.NoLevel {
		return Options{}, fmt.Errorf("%w: log.level %q", ErrInvalidOptions, c.Log.Level)
	}
	o := Options{
		NodeID: c.NodeID, DataDir: c.DataDir, FSM: c.FSM, FSMOptions: c.FSMOptions,
		RaftBind: c.Raft.Bind, RaftAdvertise: c.Raft.Advertise, ClusterID: c.Raft.ClusterID,
		Bootstrap: c.Raft.Bootstrap, Join: c.Raft.Join,
		HeartbeatTimeout: c.Raft.HeartbeatTimeout, ElectionTimeout: c.Raft.ElectionTimeout,
		Store:             c.Raft.Store,
		SnapshotThreshold: c.Raft.Snapshot.Threshold, SnapshotInterval: c.Raft.Snapshot.Interval,
		SnapshotRetain: c.Raft.Snapshot.Retain, TrailingLogs: c.Raft.Snapshot.TrailingLogs,
		HTTPBind: c.HTTP.Bind, DisableMetrics: !c.Metrics.Enabled,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "mandate", Level: level, Output: logOut, JSONFormat: c.Log.Format == "json",
		}),
	}
	for _, p := range c.Raft.Peers {
		o.Peers = append(o.Peers, wire.Server{ID: wire.NodeID(p.ID), Address: p.Address, Role: wire.Voter})
	}
	if c.Raft.TLS.Enabled() {
		tc, err := tcp.MutualTLS(c.Raft.TLS.CertFile, c.Raft.TLS.KeyFile, c.Raft.TLS.CAFile)
		if err != nil {
			return Options{}, fmt.Errorf("raft.tls: %w", err)
		}
		o.RaftTLS = tc
	}
	return o, nil
}

// Reload applies what can change while the node runs, given the
// configuration it runs with (old) and a newly loaded one (next): today
// the log level. It returns the changed keys it applied and those that
// take effect only after a restart (including the runtime's timeouts and
// snapshot policy, which the Raft runtime cannot change while running).
func (d *Daemon) Reload(old, next *config.Config) (applied, restart []string) {
	ch := config.Reload(old, next)
	for _, k := range ch.Changed {
		if k == "log.level" {
			if level := hclog.LevelFromString(next.Log.Level); level != hclog.NoLevel {
				d.opts.Logger.SetLevel(level)
				applied = append(applied, k)
				continue
			}
		}
		restart = append(restart, k)
	}
	return applied, restart
}
