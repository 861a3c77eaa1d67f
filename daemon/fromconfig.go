package daemon

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/config"
	"github.com/mandate-raft/mandate/raft"
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
// configuration it runs with (old) and a newly loaded one (next): the log
// level, the Raft timeouts (raft.heartbeat_timeout,
// raft.election_timeout) and the snapshot policy (raft.snapshot.threshold,
// interval, trailing_logs), the latter through raft.Node.Reload. It
// returns the changed keys it applied and those that take effect only
// after a restart (every other key, raft.snapshot.retain included; and
// the raft keys too if the runtime refused them, which is logged).
func (d *Daemon) Reload(old, next *config.Config) (applied, restart []string) {
	ch := config.Reload(old, next)
	var raftKeys []string
	for _, k := range ch.Changed {
		switch k {
		case "log.level":
			if level := hclog.LevelFromString(next.Log.Level); level != hclog.NoLevel {
				d.opts.Logger.SetLevel(level)
				applied = append(applied, k)
				continue
			}
		case "raft.heartbeat_timeout", "raft.election_timeout", "raft.snapshot.threshold",
			"raft.snapshot.interval", "raft.snapshot.trailing_logs":
			raftKeys = append(raftKeys, k)
			continue
		}
		restart = append(restart, k)
	}
	if len(raftKeys) > 0 {
		err := ErrUnsupported
		if d.node != nil {
			err = d.node.Reload(raft.ReloadableConfig{
				HeartbeatTimeout: next.Raft.HeartbeatTimeout, ElectionTimeout: next.Raft.ElectionTimeout,
				SnapshotThreshold: next.Raft.Snapshot.Threshold, SnapshotInterval: next.Raft.Snapshot.Interval,
				TrailingLogs: next.Raft.Snapshot.TrailingLogs,
			})
		}
		if err != nil {
			d.opts.Logger.Error("raft settings not reloaded", "keys", raftKeys, "error", err)
			restart = append(restart, raftKeys...)
		} else {
			applied = append(applied, raftKeys...)
		}
	}
	return applied, restart
}
