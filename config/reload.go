package config

import (
	"fmt"
	"reflect"
	"sort"
)

// liveKeys can change while the daemon runs (the log level, and what
// raft.Node.Reload takes); every other key needs a restart, among them
// raft.snapshot.retain, which the snapshot store reads once when it opens.
var liveKeys = map[string]bool{
	"log.level":                   true,
	"raft.heartbeat_timeout":      true,
	"raft.election_timeout":       true,
	"raft.snapshot.threshold":     true,
	"raft.snapshot.interval":      true,
	"raft.snapshot.trailing_logs": true,
}

// Changes is what Reload found between two configurations.
type Changes struct {
	// Changed lists every key whose value differs, sorted.
	Changed []string
	// Live are the changed keys the daemon applies at run time.
	Live []string
	// Restart are the changed keys that take effect only after a restart.
	Restart []string
}

// NeedsRestart reports whether some change waits for a restart.
func (c Changes) NeedsRestart() bool { return len(c.Restart) > 0 }

// Reload compares the running configuration with a newly loaded one and
// sorts the differences into those that can apply now and those that need
// a restart. It does not validate next: Load already did.
func Reload(old, next *Config) Changes {
	a, b := flatten(old), flatten(next)
	var ch Changes
	for _, k := range leafKeys {
		if reflect.DeepEqual(a[k], b[k]) {
			continue
		}
		ch.Changed = append(ch.Changed, k)
		if liveKeys[k] {
			ch.Live = append(ch.Live, k)
		} else {
			ch.Restart = append(ch.Restart, k)
		}
	}
	sort.Strings(ch.Changed)
	sort.Strings(ch.Live)
	sort.Strings(ch.Restart)
	return ch
}

// flatten maps each key to its value in c.
func flatten(c *Config) map[string]any {
	return map[string]any{
		"node_id":                     c.NodeID,
		"data_dir":                    c.DataDir,
		"fsm":                         c.FSM,
		"fsm_options":                 fmt.Sprint(c.FSMOptions),
		"raft.bind":                   c.Raft.Bind,
		"raft.advertise":              c.Raft.Advertise,
		"raft.bootstrap":              c.Raft.Bootstrap,
		"raft.peers":                  fmt.Sprint(c.Raft.Peers),
		"raft.join":                   fmt.Sprint(c.Raft.Join),
		"raft.cluster_id":             c.Raft.ClusterID,
		"raft.heartbeat_timeout":      c.Raft.HeartbeatTimeout,
		"raft.election_timeout":       c.Raft.ElectionTimeout,
		"raft.store":                  c.Raft.Store,
		"raft.snapshot.threshold":     c.Raft.Snapshot.Threshold,
		"raft.snapshot.interval":      c.Raft.Snapshot.Interval,
		"raft.snapshot.retain":        c.Raft.Snapshot.Retain,
		"raft.snapshot.trailing_logs": c.Raft.Snapshot.TrailingLogs,
		"raft.tls.cert_file":          c.Raft.TLS.CertFile,
		"raft.tls.key_file":           c.Raft.TLS.KeyFile,
		"raft.tls.ca_file":            c.Raft.TLS.CAFile,
		"http.bind":                   c.HTTP.Bind,
		"log.level":                   c.Log.Level,
		"log.format":                  c.Log.Format,
		"metrics.enabled":             c.Metrics.Enabled,
	}
}
