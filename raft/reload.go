package raft

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ReloadableConfig holds the settings of a Config that Node.Reload changes
// while the node runs. As in Config, a zero field means its default, so
// a ReloadableConfig built from a configuration file gives the running
// node the values a restart with that file would.
type ReloadableConfig struct {
	// HeartbeatTimeout is Config.HeartbeatTimeout. Default 100ms.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is Config.ElectionTimeout; it must exceed
	// HeartbeatTimeout. Default 1s.
	ElectionTimeout time.Duration
	// SnapshotThreshold is Config.SnapshotThreshold. Default 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is Config.SnapshotInterval. Default 30s.
	SnapshotInterval time.Duration
	// TrailingLogs is Config.TrailingLogs. Default 10240.
	TrailingLogs uint64
}

// withDefaults returns rc with every zero field set to its default.
func (rc ReloadableConfig) withDefaults() ReloadableConfig {
	c := Config{
		HeartbeatTimeout:  rc.HeartbeatTimeout,
		ElectionTimeout:   rc.ElectionTimeout,
		SnapshotThreshold: rc.SnapshotThreshold,
		SnapshotInterval:  rc.SnapshotInterval,
		TrailingLogs:      rc.TrailingLogs,
	}.withDefaults()
	return reloadableOf(c)
}

// reloadableOf returns the reloadable part of c.
func reloadableOf(c Config) ReloadableConfig {
	return ReloadableConfig{
		HeartbeatTimeout:  c.HeartbeatTimeout,
		ElectionTimeout:   c.ElectionTimeout,
		SnapshotThreshold: c.SnapshotThreshold,
		SnapshotInterval:  c.SnapshotInterval,
		TrailingLogs:      c.TrailingLogs,
	}
}

// Validate reports every problem with rc at once (joined with errors.Join,
// each wrapping ErrInvalidConfig), after applying defaults to zero fields,
// by the rules of Config.Validate.
func (rc ReloadableConfig) Validate() error {
	rc = rc.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if rc.HeartbeatTimeout < 0 {
		bad("HeartbeatTimeout %v is negative", rc.HeartbeatTimeout)
	}
	if rc.ElectionTimeout < 0 {
		bad("ElectionTimeout %v is negative", rc.ElectionTimeout)
	}
	if rc.ElectionTimeout <= rc.HeartbeatTimeout {
		bad("ElectionTimeout %v must exceed HeartbeatTimeout %v", rc.ElectionTimeout, rc.HeartbeatTimeout)
	}
	if rc.SnapshotInterval < 0 {
		bad("SnapshotInterval %v is negative", rc.SnapshotInterval)
	}
	return errors.Join(errs...)
}

// reloadState is the node's view of the settings Reload changed. Its zero
// value means "nothing reloaded": the Config the node started with holds.
type reloadState struct {
	// mu serialises Reload calls, so that the settings in force are those
	// of the last call to return.
	mu sync.Mutex
	// cur is the reloaded configuration (defaults applied), nil before
	// the first Reload. Read from any goroutine.
	cur atomic.Pointer[ReloadableConfig]
	// intervalc wakes the apply stage to restart its snapshot ticker
	// with a new SnapshotInterval.
	intervalOnce sync.Once
	intervalc    chan struct{}
}

// intervalChanged returns the channel on which the apply stage hears that
// SnapshotInterval changed.
func (s *reloadState) intervalChanged() chan struct{} {
	s.intervalOnce.Do(func() { s.intervalc = make(chan struct{}, 1) })
	return s.intervalc
}

// ReloadableConfig returns the reloadable settings in force: those of the
// last successful Reload, or of the Config the node started with, with
// defaults applied.
func (n *Node) ReloadableConfig() ReloadableConfig {
	if rc := n.reload.cur.Load(); rc != nil {
		return *rc
	}
	return reloadableOf(n.cfg)
}

// snapshotThreshold is the SnapshotThreshold in force; any goroutine may
// ask.
func (n *Node) snapshotThreshold() uint64 { return n.ReloadableConfig().SnapshotThreshold }

// trailingLogs is the TrailingLogs in force; any goroutine may ask.
func (n *Node) trailingLogs() uint64 { return n.ReloadableConfig().TrailingLogs }

// newSnapshotTicker returns the apply stage's snapshot-check ticker for
// the SnapshotInterval in force. The apply stage replaces it when
// snapshotIntervalChanged fires.
func (n *Node) newSnapshotTicker() Ticker {
	return n.cfg.Clock.NewTicker(n.ReloadableConfig().SnapshotInterval)
}

// snapshotIntervalChanged fires after a Reload changed SnapshotInterval.
func (n *Node) snapshotIntervalChanged() <-chan struct{} { return n.reload.intervalChanged() }

// Reload changes the timeouts and the snapshot policy of the running
// node, without a restart. rc is validated first, like a Config: when it
// is invalid, every problem is reported at once (each wrapping
// ErrInvalidConfig) and nothing changes. Reload returns once the new
// settings are in force, or with an error wrapping ErrShutdown if the node
// stops first. Safe for concurrent use; the last
// call to return wins.
//
// How each setting takes effect:
//
//   - HeartbeatTimeout and ElectionTimeout apply from the event loop's
//     next tick. The tick interval itself was fixed when the node started
//     (from the timeouts it started with), so the new timeouts are rounded
//     to whole ticks; a timeout shorter than a tick becomes one tick (a
//     warning says so) and takes a restart to be followed more finely. A
//     follower's randomized election timeout is redrawn at once, and time
//     it already spent without hearing from a leader counts towards the
//     new timeout. DiskStallTimeout keeps its started value, and so do
//     the default MaxLag of BoundedStaleness reads and the learner
//     promotion check interval, which are derived from the started
//     timeouts.
//   - SnapshotThreshold applies at the next snapshot check, and
//     SnapshotInterval restarts the check's timer at once.
//   - TrailingLogs applies to the next compaction (after the next
//     snapshot).
//
// With LeaseReads, every voter must use the same ElectionTimeout: a
// leader whose election timeout is longer than a follower's may trust a
// lease that follower no longer honours. Reload every node; when raising
// the timeout, reload the followers before the leader; when lowering it,
// the leader first.
func (n *Node) Reload(rc ReloadableConfig) error {
	if err := rc.Validate(); err != nil {
		return err
	}
	rc = rc.withDefaults()
	n.reload.mu.Lock()
	defer n.reload.mu.Unlock()
	old := n.ReloadableConfig()
	done := make(chan struct{})
	err := n.sendLocal(n.ctx, func() {
		defer close(done)
		n.reload.cur.Store(&rc)
		n.applyReloadedTimeouts()
	})
	if err != nil {
		return n.stoppedErr()
	}
	select {
	case <-done:
	case <-n.loopDone:
		// The loop may have stopped with f still queued.
		select {
		case <-done:
		default:
			return n.stoppedErr()
		}
	}
	if rc.SnapshotInterval != old.SnapshotInterval {
		select {
		case n.reload.intervalChanged() <- struct{}{}:
		default: // a wake-up is already pending; it reads the newest value
		}
	}
	if rc != old {
		n.log.Info("configuration reloaded",
			"heartbeat-timeout", rc.HeartbeatTimeout, "election-timeout", rc.ElectionTimeout,
			"snapshot-threshold", rc.SnapshotThreshold, "snapshot-interval", rc.SnapshotInterval,
			"trailing-logs", rc.TrailingLogs)
	}
	return nil
}

// applyReloadedTimeouts hands the reloaded timeouts, if any, to the core
// in ticks of the interval fixed at start. It runs on the event loop,
// after each (re)start of the core too, so that a core recreated by
// Bootstrap keeps them.
func (n *Node) applyReloadedTimeouts() {
	rc := n.reload.cur.Load()
	if rc == nil {
		return
	}
	tick := n.loop.tick
	hb, el := timeoutTicks(tick, rc.HeartbeatTimeout, rc.ElectionTimeout)
	if err := n.rn.SetTimeouts(el, hb); err != nil {
		// timeoutTicks always yields el > hb > 0.
		panic(fmt.Sprintf("raft: reload: core refused timeouts %d/%d ticks: %v", el, hb, err))
	}
	stall := max(1, roundTicks(n.cfg.DiskStallTimeout, tick))
	n.loop.maxCatchUp = 2*el + stall
	if rc.HeartbeatTimeout < tick {
		n.log.Warn("heartbeat timeout is shorter than the tick interval fixed at start; it is rounded up to one tick until a restart",
			"heartbeat-timeout", rc.HeartbeatTimeout, "tick", tick)
	}
	n.log.Debug("timeouts in ticks", "tick", tick, "heartbeat-ticks", hb, "election-ticks", el)
}

// roundTicks is d in whole ticks, rounded to the nearest.
func roundTicks(d, tick time.Duration) int { return int((d + tick/2) / tick) }

// timeoutTicks converts valid timeouts into tick counts for a loop that
// ticks every tick, as Config.ticks does (hb >= 1, el > hb).
func timeoutTicks(tick, heartbeat, election time.Duration) (hb, el int) {
	hb = max(1, roundTicks(heartbeat, tick))
	el = max(hb+1, roundTicks(election, tick))
	return hb, el
}
