package core

import "fmt"

// SetTimeouts changes the election and heartbeat timeouts, in ticks, of a
// running node, with the rules of Config (electionTick > heartbeatTick > 0).
// A bad pair is refused with an error wrapping ErrInvalidConfig and changes
// nothing.
//
// The new counts apply from the next tick. The randomized election timeout
// is redrawn at once from [electionTick, 2*electionTick): a follower that
// kept its old draw would wait out the old timeout before its first
// campaign after a leader failure. The elapsed counters are kept, so a
// follower that has not heard from a leader for longer than its new timeout
// campaigns at its next tick, as it would have with that timeout from the
// start. DiskStallTicks is not changed.
//
// With ReadOnlyLeaseBased the lease and the window in which a node refuses
// votes both follow ElectionTick: the lease is sound only while every voter
// uses the same ElectionTick (in the same tick length), so a change must
// reach all nodes.
func (rn *RawNode) SetTimeouts(electionTick, heartbeatTick int) error {
	if heartbeatTick <= 0 || electionTick <= heartbeatTick {
		return fmt.Errorf("%w: ElectionTick (%d) must be greater than HeartbeatTick (%d) > 0",
			ErrInvalidConfig, electionTick, heartbeatTick)
	}
	r := rn.raft
	if r.cfg.ElectionTick == electionTick && r.cfg.HeartbeatTick == heartbeatTick {
		return nil
	}
	r.logger.Info("timeouts changed", "election-tick", electionTick, "heartbeat-tick", heartbeatTick,
		"previous-election-tick", r.cfg.ElectionTick, "previous-heartbeat-tick", r.cfg.HeartbeatTick)
	r.cfg.ElectionTick, r.cfg.HeartbeatTick = electionTick, heartbeatTick
	r.resetRandomizedElectionTimeout()
	return nil
}
