package raft

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/wire"
)

// Defaults applied to zero fields of a Config.
const (
	DefaultHeartbeatTimeout  = 100 * time.Millisecond
	DefaultElectionTimeout   = time.Second
	DefaultMaxSizePerMsg     = 1 << 20
	DefaultMaxInflight       = 256
	DefaultMaxAppendEntries  = 1024
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 30 * time.Second
	DefaultTrailingLogs      = 10240
	DefaultLearnerMaxLag     = 128
)

// Config configures a Node. The zero value of every field but ID means its
// default, so Config{ID: "n1"} is a working configuration.
type Config struct {
	// ID is this node's identity in the cluster. Required.
	ID wire.NodeID

	// HeartbeatTimeout is the interval between a leader's heartbeats.
	// Default 100ms. The event loop ticks every
	// min(HeartbeatTimeout, ElectionTimeout/10).
	HeartbeatTimeout time.Duration
	// ElectionTimeout is the least time a follower waits without hearing
	// from a leader before it campaigns; the actual wait is drawn from
	// [ElectionTimeout, 2*ElectionTimeout). With check-quorum a leader that
	// has not heard from a quorum for this long steps down. Must exceed
	// HeartbeatTimeout. Default 1s.
	ElectionTimeout time.Duration
	// DiskStallTimeout is how long a leader tolerates its own oldest
	// pending log write not being durable before it steps down so that a
	// node with a healthy disk can lead. Default ElectionTimeout.
	DiskStallTimeout time.Duration

	// MaxAppendEntries bounds how many proposals the event loop hands to the
	// core in one batch (one append). Default 1024.
	MaxAppendEntries int
	// MaxSizePerMsg bounds the bytes of entries in one append message to a
	// follower (one entry is always sent). Default 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflight bounds the append messages in flight to one follower (the
	// pipelining window). Default 256.
	MaxInflight int

	// DisablePreVote turns off the pre-vote round (on by default), which
	// keeps a node rejoining after a partition from deposing a healthy
	// leader.
	DisablePreVote bool
	// DisableCheckQuorum turns off check-quorum (on by default): a leader
	// that cannot hear from a quorum steps down, and followers that hear
	// from a leader ignore vote requests.
	DisableCheckQuorum bool
	// DisableForwarding makes followers refuse Apply with a
	// *NotLeaderError instead of forwarding the proposal to the leader.
	DisableForwarding bool

	// LeaseReads lets Read with the Lease consistency answer from the
	// leader's lease, without a heartbeat round per read. Off by default;
	// it requires check-quorum (DisableCheckQuorum false). Its clock
	// assumption: every node's clock advances at a rate within 10% of the
	// others' (bounded drift, not synchronised time), and a paused process
	// catches up on its ticks before it serves. A node whose clock runs
	// slower than that may still believe in its lease after another leader
	// was elected, and serve a stale read. Linearizable reads and Barrier
	// never rely on the lease.
	LeaseReads bool

	// AutoPromoteLearners makes the leader promote every learner to voter
	// once the learner's log is within LearnerMaxLag entries of the
	// leader's and it is being replicated to normally. Off by default:
	// learners then stay learners until AddVoter.
	AutoPromoteLearners bool
	// LearnerMaxLag is how many entries behind the leader's last index a
	// learner may be when AutoPromoteLearners promotes it. Default 128.
	LearnerMaxLag uint64

	// SnapshotThreshold is how many entries must have been applied since
	// the last snapshot before the node takes a new one. Default 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often the node checks SnapshotThreshold.
	// Default 30s.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries at and below a snapshot's index stay
	// in the log after compaction, so that slightly lagging followers catch
	// up from the log instead of a snapshot. Default 10240.
	TrailingLogs uint64

	// Logger receives the node's log lines; each component logs through a
	// named sub-logger. Default: hclog's default logger at Info level.
	Logger hclog.Logger
	// Clock is the source of time. Default SystemClock.
	Clock Clock
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = DefaultElectionTimeout
	}
	if c.DiskStallTimeout == 0 {
		c.DiskStallTimeout = c.ElectionTimeout
	}
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = DefaultMaxAppendEntries
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = DefaultMaxSizePerMsg
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.LearnerMaxLag == 0 {
		c.LearnerMaxLag = DefaultLearnerMaxLag
	}
	if c.Logger == nil {
		c.Logger = hclog.Default()
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	return c
}

// Validate reports every problem with c at once (joined with errors.Join,
// each wrapping ErrInvalidConfig), after applying defaults to zero fields.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.ID == wire.None {
		bad("ID is required")
	}
	if c.HeartbeatTimeout < 0 {
		bad("HeartbeatTimeout %v is negative", c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < 0 {
		bad("ElectionTimeout %v is negative", c.ElectionTimeout)
	}
	if c.ElectionTimeout <= c.HeartbeatTimeout {
		bad("ElectionTimeout %v must exceed HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.DiskStallTimeout < 0 {
		bad("DiskStallTimeout %v is negative", c.DiskStallTimeout)
	}
	if c.MaxAppendEntries < 0 {
		bad("MaxAppendEntries %d is negative", c.MaxAppendEntries)
	}
	if c.MaxInflight < 0 {
		bad("MaxInflight %d is negative", c.MaxInflight)
	}
	if c.LeaseReads && c.DisableCheckQuorum {
		bad("LeaseReads needs check-quorum, which DisableCheckQuorum turns off")
	}
	if c.SnapshotInterval < 0 {
		bad("SnapshotInterval %v is negative", c.SnapshotInterval)
	}
	return errors.Join(errs...)
}

// ticks converts the durations of a defaulted, valid config into the
// core's tick counts: the loop ticks every tick, a heartbeat is hb ticks
// and an election timeout el ticks (el > hb).
func (c Config) ticks() (tick time.Duration, hb, el, stall int) {
	tick = min(c.HeartbeatTimeout, c.ElectionTimeout/10)
	if tick <= 0 {
		tick = time.Millisecond
	}
	round := func(d time.Duration) int { return int((d + tick/2) / tick) }
	hb = max(1, round(c.HeartbeatTimeout))
	el = max(hb+1, round(c.ElectionTimeout))
	stall = max(1, round(c.DiskStallTimeout))
	return tick, hb, el, stall
}
