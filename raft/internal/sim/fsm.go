package sim

import "github.com/mandate-raft/mandate/wire"

// fsmState is the simulated state machine: the hash chain of every entry
// applied so far. Two replicas agree on their applied prefix exactly when
// their digests at the same index agree, and the digest at index i equals
// the log's prefix hash at i (see chainNext), which ties applied state to
// the committed log.
type fsmState struct {
	applied uint64
	digest  uint64
	// config is the newest configuration applied, what a snapshot taken
	// now must carry.
	config wire.Configuration
}

// apply folds one entry into the state.
func (f *fsmState) apply(e *wire.Entry) {
	f.digest = chainNext(f.digest, e)
	f.applied = e.Index
	if e.Type == wire.EntryConfig && e.Config != nil {
		f.config = e.Config.Clone()
	}
}
