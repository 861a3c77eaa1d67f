package wire

// NodeID names a node for the life of a cluster. It is chosen by the
// operator (for example "n1") and never reused for a node that lost its data.
type NodeID string

// None is the NodeID meaning "no node": no vote cast, no leader known.
const None NodeID = ""

// EntryType says how the runtime treats an entry once it is committed.
type EntryType uint8

const (
	// EntryNormal carries a user command, handed to the FSM's Apply.
	EntryNormal EntryType = iota
	// EntryNoop is the empty entry a new leader appends at the start of its
	// term so that it can commit everything before it (Raft §5.4.2).
	EntryNoop
	// EntryConfig carries a new cluster Configuration in Entry.Config.
	// A node uses the newest configuration in its log, committed or not
	// (Raft thesis §4.1).
	EntryConfig
)

// String returns the entry type's name.
func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "Normal"
	case EntryNoop:
		return "Noop"
	case EntryConfig:
		return "Config"
	}
	return "EntryType(?)"
}

// Entry is one record of the replicated log.
type Entry struct {
	// Index is the entry's position in the log, starting at 1.
	Index uint64 `codec:"i"`
	// Term is the leader's term when the entry was first appended.
	Term uint64 `codec:"t"`
	// Type says how the entry is applied.
	Type EntryType `codec:"y"`
	// Data is the user's command for EntryNormal; empty otherwise.
	Data []byte `codec:"d,omitempty"`
	// Config is the new membership for EntryConfig; nil otherwise.
	Config *Configuration `codec:"c,omitempty"`
	// Origin is the node that accepted the proposal from a client, and
	// ProposalID that node's identifier for it. Together they let the
	// origin resolve its caller's future when it applies the entry, even
	// when it forwarded the proposal to a leader. Zero when nobody waits.
	Origin     NodeID `codec:"o,omitempty"`
	ProposalID uint64 `codec:"p,omitempty"`
	// Time is the leader's wall clock, in Unix nanoseconds, when the leader
	// accepted the proposal. It is the only notion of time an FSM may use
	// (for lock expiry, session expiry), because every replica sees the
	// same value. It is not monotonic across leaders.
	Time int64 `codec:"w,omitempty"`
}

// Size is an estimate of the entry's encoded size in bytes, used for flow
// control and batch limits.
func (e *Entry) Size() uint64 {
	n := uint64(24 + len(e.Data) + len(e.Origin))
	if e.Config != nil {
		for _, s := range e.Config.Servers {
			n += uint64(8 + len(s.ID) + len(s.Address))
		}
	}
	return n
}

// HardState is what a node must persist before it answers a vote or an
// append: its term, its vote in that term, and the highest index it knows
// to be committed.
type HardState struct {
	Term   uint64 `codec:"t"`
	Vote   NodeID `codec:"v,omitempty"`
	Commit uint64 `codec:"c"`
}

// IsEmpty reports whether hs is the zero HardState.
func (hs HardState) IsEmpty() bool { return hs == HardState{} }

// SnapshotMeta describes a snapshot: the last log entry it includes, the
// configuration in force at that entry, and (for stored snapshots) its size
// and checksum.
type SnapshotMeta struct {
	// ID identifies the snapshot within a snapshot store.
	ID string `codec:"id,omitempty"`
	// Index and Term are those of the last entry the snapshot includes.
	Index uint64 `codec:"i"`
	Term  uint64 `codec:"t"`
	// Config is the configuration in force at Index.
	Config Configuration `codec:"c"`
	// Size is the snapshot's data length in bytes, when known.
	Size int64 `codec:"s,omitempty"`
	// Checksum is a CRC-32C (Castagnoli) of the snapshot's data, when known.
	Checksum uint32 `codec:"k,omitempty"`
}

// IsEmpty reports whether m describes no snapshot.
func (m SnapshotMeta) IsEmpty() bool { return m.Index == 0 }
