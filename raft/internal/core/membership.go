package core

import (
	"fmt"

	"github.com/mandate-raft/mandate/wire"
)

// confEntry is a configuration and the index of the entry (or snapshot)
// that set it.
type confEntry struct {
	index uint64
	cfg   wire.Configuration
}

// loadConfigs finds the configurations in the snapshot and the durable log
// at start.
func (r *raft) loadConfigs() error {
	r.confs = r.confs[:0]
	if s := r.cfg.Storage.Snapshot(); !s.IsEmpty() {
		r.confs = append(r.confs, confEntry{index: s.Index, cfg: s.Config.Clone()})
	}
	const batchBytes = 4 << 20
	lo, last := r.log.firstIndex(), r.log.lastIndex()
	for lo <= last {
		ents, err := r.log.slice(lo, last+1, batchBytes)
		if err != nil {
			return fmt.Errorf("core: scanning the log for configurations: %w", err)
		}
		for i := range ents {
			if ents[i].Type == wire.EntryConfig && ents[i].Config != nil {
				r.confs = append(r.confs, confEntry{index: ents[i].Index, cfg: ents[i].Config.Clone()})
			}
		}
		lo += uint64(len(ents))
	}
	r.pruneConfigs()
	r.applyConfig()
	return nil
}

// config returns the configuration in force (the newest in the log).
func (r *raft) config() (wire.Configuration, uint64) {
	if len(r.confs) == 0 {
		return wire.Configuration{}, 0
	}
	c := r.confs[len(r.confs)-1]
	return c.cfg, c.index
}

// resetConfigs replaces every known configuration with c (a snapshot's).
func (r *raft) resetConfigs(c confEntry) {
	r.confs = append(r.confs[:0], c)
	r.applyConfig()
}

// onEntriesWritten updates the configurations after ents were written to
// the log, replacing whatever followed ents[0].Index: a configuration from
// a truncated entry is forgotten and the previous one is back in force.
func (r *raft) onEntriesWritten(ents []wire.Entry) {
	if len(ents) == 0 {
		return
	}
	changed := false
	from := ents[0].Index
	for len(r.confs) > 0 && r.confs[len(r.confs)-1].index >= from {
		r.confs = r.confs[:len(r.confs)-1]
		changed = true
	}
	for i := range ents {
		if ents[i].Type == wire.EntryConfig && ents[i].Config != nil {
			r.confs = append(r.confs, confEntry{index: ents[i].Index, cfg: ents[i].Config.Clone()})
			changed = true
		}
	}
	if changed {
		r.applyConfig()
	}
}

// pruneConfigs forgets configurations older than the newest committed one:
// a committed entry is never truncated, so nothing can fall back past it.
func (r *raft) pruneConfigs() {
	i := 0
	for i+1 < len(r.confs) && r.confs[i+1].index <= r.log.committed {
		i++
	}
	if i > 0 {
		r.confs = append(r.confs[:0], r.confs[i:]...)
		// Servers only the pruned configurations had are now gone.
		r.applyConfig()
	}
}

// applyConfig puts the newest configuration in force.
func (r *raft) applyConfig() {
	c, idx := r.config()
	// Servers of the older configurations still in play (the committed
	// base and any pending one) stay replication targets until the newest
	// configuration commits, so a removed server receives the entry that
	// removes it and stops campaigning.
	var leaving []wire.NodeID
	for _, ce := range r.confs[:max(len(r.confs)-1, 0)] {
		for _, s := range ce.cfg.Servers {
			if _, ok := c.Server(s.ID); !ok {
				leaving = append(leaving, s.ID)
			}
		}
	}
	r.trk.SetConfig(c, leaving, r.log.lastIndex()+1)
	r.logger.Debug("configuration in force", "index", idx, "voters", len(r.trk.Voters),
		"members", len(r.trk.IDs))
	if r.state == StateLeader {
		if r.leadTransferee != None && !r.trk.IsVoter(r.leadTransferee) {
			r.abortLeaderTransfer()
		}
	}
}

// configPending reports whether the newest configuration is not yet
// committed.
func (r *raft) configPending() bool {
	_, idx := r.config()
	return idx > r.log.committed
}

// proposeConfChange appends a single-server membership change on the
// leader.
func (r *raft) proposeConfChange(cc ConfChange) error {
	if r.state != StateLeader || r.leadTransferee != None {
		return ErrProposalDropped
	}
	// One change at a time, and only once this leader committed an entry
	// of its term: otherwise a change from a previous leader that this one
	// has not seen committed could combine with this one into two
	// configurations without overlapping majorities.
	if r.configPending() || !r.committedEntryInCurrentTerm() {
		return ErrConfChangePending
	}
	cur, _ := r.config()
	next, err := applyConfChange(cur, cc)
	if err != nil {
		return err
	}
	r.logger.Info("proposing membership change", "op", cc.Op, "server", cc.ID)
	r.appendEntries(wire.Entry{Type: wire.EntryConfig, Config: &next})
	r.bcastAppend()
	return nil
}

// applyConfChange returns c changed by cc, or an error wrapping
// ErrInvalidConfChange.
func applyConfChange(c wire.Configuration, cc ConfChange) (wire.Configuration, error) {
	if cc.ID == None {
		return wire.Configuration{}, fmt.Errorf("%w: empty server id", ErrInvalidConfChange)
	}
	next := c.Clone()
	pos := -1
	for i, s := range next.Servers {
		if s.ID == cc.ID {
			pos = i
		}
	}
	switch cc.Op {
	case AddLearner:
		if pos >= 0 {
			return wire.Configuration{}, fmt.Errorf("%w: %q is already a member", ErrInvalidConfChange, cc.ID)
		}
		next.Servers = append(next.Servers, wire.Server{ID: cc.ID, Address: cc.Address, Role: wire.Learner})
	case AddVoter:
		switch {
		case pos < 0:
			next.Servers = append(next.Servers, wire.Server{ID: cc.ID, Address: cc.Address, Role: wire.Voter})
		case next.Servers[pos].Role == wire.Learner:
			next.Servers[pos].Role = wire.Voter
			if cc.Address != "" {
				next.Servers[pos].Address = cc.Address
			}
		default:
			return wire.Configuration{}, fmt.Errorf("%w: %q is already a voter", ErrInvalidConfChange, cc.ID)
		}
	case DemoteVoter:
		if pos < 0 || next.Servers[pos].Role != wire.Voter {
			return wire.Configuration{}, fmt.Errorf("%w: %q is not a voter", ErrInvalidConfChange, cc.ID)
		}
		next.Servers[pos].Role = wire.Learner
	case RemoveServer:
		if pos < 0 {
			return wire.Configuration{}, fmt.Errorf("%w: %q is not a member", ErrInvalidConfChange, cc.ID)
		}
		next.Servers = append(next.Servers[:pos], next.Servers[pos+1:]...)
	default:
		return wire.Configuration{}, fmt.Errorf("%w: unknown operation %d", ErrInvalidConfChange, cc.Op)
	}
	if err := next.Validate(); err != nil {
		return wire.Configuration{}, fmt.Errorf("%w: %w", ErrInvalidConfChange, err)
	}
	return next, nil
}

// maybeStepDownAfterRemoval ends the leadership of a leader that is no
// longer a voter once that configuration is committed (until then it kept
// leading without counting itself, Raft thesis §4.2.2) and durable here,
// so that the Ready announcing the step-down also hands out the entry for
// applying. It first asks the most up-to-date voter to campaign at once,
// so the handover is fast.
func (r *raft) maybeStepDownAfterRemoval() {
	if r.state != StateLeader || r.trk.IsVoter(r.id) || r.configPending() {
		return
	}
	if _, idx := r.config(); idx > r.log.stableIndex() {
		return
	}
	var best wire.NodeID
	var bestMatch uint64
	for _, id := range r.trk.Voters {
		if pr := r.trk.Progress[id]; best == None || pr.Match > bestMatch {
			best, bestMatch = id, pr.Match
		}
	}
	r.logger.Info("stepping down: no longer a voter", "term", r.term, "successor", best)
	if best != None {
		r.sendTimeoutNow(best)
	}
	r.becomeFollower(r.term, None)
}
