// Package config is the mandate daemon's configuration: a typed Config
// with defaults, loaded from a YAML file with github.com/spf13/viper,
// overridden by MANDATE_-prefixed environment variables (MANDATE_RAFT_BIND
// for raft.bind) and by command-line flags, and validated as a whole:
// every problem is reported at once, each naming its key.
//
// docs/configuration.md describes every key.
package config

import (
	"errors"
	"time"
)

// ErrInvalid is wrapped by every validation problem Load and Validate
// report; ErrUnknownKey by every unknown key.
var (
	ErrInvalid    = errors.New("invalid configuration")
	ErrUnknownKey = errors.New("unknown configuration key")
)

// Config is the daemon's whole configuration. The yaml key of each field
// is given in its comment.
type Config struct {
	// NodeID (node_id) names this node for the life of the cluster.
	// Required.
	NodeID string
	// DataDir (data_dir) holds the log, the stable state and snapshots.
	// Default: data/<node_id>.
	DataDir string
	// FSM (fsm) is the registered name of the state machine to run.
	// Default: ledger.
	FSM string
	// FSMOptions (fsm_options) is passed to the FSM's factory as it is.
	FSMOptions map[string]any
	Raft       Raft
	HTTP       HTTP
	Log        Log
	Metrics    Metrics
}

// Raft is the raft section.
type Raft struct {
	// Bind (raft.bind) is the host:port the Raft transport listens on.
	Bind string
	// Advertise (raft.advertise) is the address peers dial; default Bind.
	Advertise string
	// Bootstrap (raft.bootstrap): on first start with empty data, form a
	// new cluster of Peers. Ignored once the node has state.
	Bootstrap bool
	// Peers (raft.peers) is the initial membership for Bootstrap.
	Peers []Peer
	// Join (raft.join) lists HTTP addresses of running members to ask for
	// admission, instead of bootstrapping.
	Join []string
	// ClusterID (raft.cluster_id) names the cluster; peers and data of
	// another cluster are refused.
	ClusterID string
	// HeartbeatTimeout (raft.heartbeat_timeout) is the leader's heartbeat
	// period.
	HeartbeatTimeout time.Duration
	// ElectionTimeout (raft.election_timeout) is the base election
	// timeout; it must exceed HeartbeatTimeout.
	ElectionTimeout time.Duration
	// Store (raft.store) is "bolt" (durable, the default), "wal" (durable
	// in segment files: one fsync per append instead of bolt's two) or
	// "memory" (tests only).
	Store    string
	Snapshot Snapshot
	TLS      TLS
}

// Peer is one member of the bootstrap configuration.
type Peer struct {
	ID      string
	Address string
}

// Snapshot is the raft.snapshot section: when to snapshot and what to keep.
type Snapshot struct {
	// Threshold: snapshot once this many entries were applied since the
	// last one.
	Threshold uint64
	// Interval: how often to check the threshold; 0 means the default.
	Interval time.Duration
	// Retain: how many snapshots to keep on disk (at least 1).
	Retain int
	// TrailingLogs: entries kept in the log behind a snapshot, so that a
	// slightly lagging follower catches up without a snapshot.
	TrailingLogs uint64
}

// TLS is the raft.tls section. All empty means plain TCP; otherwise
// CertFile and KeyFile are both required, and CAFile (optional) is the
// authority that peers' certificates must chain to.
type TLS struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// HTTP is the http section: the client and admin API.
type HTTP struct {
	// Bind (http.bind) is the host:port of the HTTP API.
	Bind string
}

// Log is the log section.
type Log struct {
	// Level (log.level): trace, debug, info, warn, error or off.
	Level string
	// Format (log.format): text or json.
	Format string
}

// Metrics is the metrics section.
type Metrics struct {
	// Enabled (metrics.enabled) serves Prometheus metrics at /metrics on
	// the HTTP API.
	Enabled bool
}

// Default values of every key that has one.
const (
	DefaultFSM              = "ledger"
	DefaultRaftBind         = "127.0.0.1:7001"
	DefaultClusterID        = "mandate"
	DefaultHeartbeatTimeout = 100 * time.Millisecond
	DefaultElectionTimeout  = time.Second
	DefaultStore            = "bolt"
	DefaultSnapThreshold    = 8192
	DefaultSnapInterval     = 30 * time.Second
	DefaultSnapRetain       = 3
	DefaultTrailingLogs     = 10240
	DefaultHTTPBind         = "127.0.0.1:8001"
	DefaultLogLevel         = "info"
	DefaultLogFormat        = "text"
)

// defaults maps every leaf key to its default (keys without one are
// absent: node_id, data_dir, raft.advertise, which derive from others).
func defaults() map[string]any {
	return map[string]any{
		"fsm":                         DefaultFSM,
		"fsm_options":                 map[string]any{},
		"raft.bind":                   DefaultRaftBind,
		"raft.bootstrap":              false,
		"raft.peers":                  []any{},
		"raft.join":                   []any{},
		"raft.cluster_id":             DefaultClusterID,
		"raft.heartbeat_timeout":      DefaultHeartbeatTimeout.String(),
		"raft.election_timeout":       DefaultElectionTimeout.String(),
		"raft.store":                  DefaultStore,
		"raft.snapshot.threshold":     DefaultSnapThreshold,
		"raft.snapshot.interval":      DefaultSnapInterval.String(),
		"raft.snapshot.retain":        DefaultSnapRetain,
		"raft.snapshot.trailing_logs": DefaultTrailingLogs,
		"raft.tls.cert_file":          "",
		"raft.tls.key_file":           "",
		"raft.tls.ca_file":            "",
		"http.bind":                   DefaultHTTPBind,
		"log.level":                   DefaultLogLevel,
		"log.format":                  DefaultLogFormat,
		"metrics.enabled":             true,
	}
}
