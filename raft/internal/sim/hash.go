package sim

import "github.com/mandate-raft/mandate/wire"

// The simulator's hashes must be the same in every process (the trace hash
// proves replays identical), so they are FNV-1a and a fixed mixer rather
// than hash/maphash, whose seed changes per process.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvUint(h, x uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= x & 0xff
		h *= fnvPrime
		x >>= 8
	}
	return h
}

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return fnvUint(h, uint64(len(b)))
}

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return fnvUint(h, uint64(len(s)))
}

// entryHash identifies an entry's content: everything a replica would
// apply (Time is left out: it is informational and set by the leader).
func entryHash(e *wire.Entry) uint64 {
	h := uint64(fnvOffset)
	h = fnvUint(h, e.Index)
	h = fnvUint(h, e.Term)
	h = fnvUint(h, uint64(e.Type))
	h = fnvBytes(h, e.Data)
	h = fnvString(h, string(e.Origin))
	h = fnvUint(h, e.ProposalID)
	if e.Config != nil {
		for _, s := range e.Config.Servers {
			h = fnvString(h, string(s.ID))
			h = fnvString(h, s.Address)
			h = fnvUint(h, uint64(s.Role))
		}
	}
	return h
}

// chainNext extends a hash chain over log entries. The chain value at
// index i identifies the whole prefix [1, i], which turns Log Matching and
// State Machine Safety into comparisons of one number.
func chainNext(prev uint64, e *wire.Entry) uint64 {
	return fnvUint(fnvUint(fnvOffset, prev), entryHash(e))
}
