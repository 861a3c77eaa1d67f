package wire

import "fmt"

// MessageType names a Raft message. Local messages (Hup, Beat, Prop,
// Unreachable, SnapStatus, CheckQuorum, StorageAppendResp, ...) are stepped
// into a node by its own runtime; the others cross the network.
type MessageType uint8

// The message types. Values are part of the wire format: append only.
const (
	MsgHup               MessageType = iota // local: start an election now
	MsgBeat                                 // local: leader, send heartbeats now
	MsgProp                                 // propose entries (local, or forwarded to the leader)
	MsgApp                                  // append entries (leader to follower)
	MsgAppResp                              // answer to MsgApp
	MsgVote                                 // request a vote
	MsgVoteResp                             // answer to MsgVote
	MsgPreVote                              // ask whether a vote would be granted, without changing terms
	MsgPreVoteResp                          // answer to MsgPreVote
	MsgSnap                                 // install the snapshot described by Message.Snapshot
	MsgHeartbeat                            // leader liveness and commit index
	MsgHeartbeatResp                        // answer to MsgHeartbeat
	MsgUnreachable                          // local: the transport could not reach Message.From
	MsgSnapStatus                           // local: a snapshot send to Message.From ended; Reject means it failed
	MsgCheckQuorum                          // local: leader, check that a quorum is still active
	MsgTransferLeader                       // hand leadership to a target (on the leader): see Message.Context
	MsgTimeoutNow                           // leader to transfer target: campaign now
	MsgReadIndex                            // ask for a read index (local, or forwarded to the leader)
	MsgReadIndexResp                        // the leader's answer to a forwarded MsgReadIndex
	MsgStorageAppendResp                    // local: entries up to (Index, LogTerm) and the hard state are durable
	MsgStorageSnapResp                      // local: the snapshot at Snapshot.Index is installed durably
	MsgFoundingQuery                        // a founding member with blank stores asks another what it holds (see MsgFoundingQueryResp)
	MsgFoundingQueryResp                    // answer: Term is the sender's term, Index its last log index; Reject means it holds more than the founding configuration
	msgTypeCount
)

var msgNames = [...]string{
	"MsgHup", "MsgBeat", "MsgProp", "MsgApp", "MsgAppResp", "MsgVote",
	"MsgVoteResp", "MsgPreVote", "MsgPreVoteResp", "MsgSnap", "MsgHeartbeat",
	"MsgHeartbeatResp", "MsgUnreachable", "MsgSnapStatus", "MsgCheckQuorum",
	"MsgTransferLeader", "MsgTimeoutNow", "MsgReadIndex", "MsgReadIndexResp",
	"MsgStorageAppendResp", "MsgStorageSnapResp", "MsgFoundingQuery",
	"MsgFoundingQueryResp",
}

// String returns the message type's name.
func (t MessageType) String() string {
	if t < msgTypeCount {
		return msgNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Valid reports whether t is a known message type.
func (t MessageType) Valid() bool { return t < msgTypeCount }

// IsLocal reports whether t is only ever stepped by a node's own runtime
// and must be refused when it arrives from the network.
func (t MessageType) IsLocal() bool {
	switch t {
	case MsgHup, MsgBeat, MsgUnreachable, MsgSnapStatus, MsgCheckQuorum,
		MsgStorageAppendResp, MsgStorageSnapResp:
		return true
	}
	return false
}

// IsResponse reports whether t answers a request of the sender's.
func (t MessageType) IsResponse() bool {
	switch t {
	case MsgAppResp, MsgVoteResp, MsgPreVoteResp, MsgHeartbeatResp, MsgReadIndexResp,
		MsgFoundingQueryResp:
		return true
	}
	return false
}

// Message is the unit of communication between Raft nodes and between a
// node's runtime and its core. Which fields are meaningful depends on Type.
type Message struct {
	Type MessageType `codec:"y"`
	To   NodeID      `codec:"to"`
	From NodeID      `codec:"fr"`
	// Term is the sender's term; 0 for local messages and MsgProp.
	Term uint64 `codec:"t"`
	// LogTerm and Index: for MsgApp the entry preceding Entries; for votes
	// the candidate's last entry; for MsgAppResp the index acknowledged (or
	// rejected); for MsgStorageAppendResp the last durable entry.
	LogTerm uint64 `codec:"lt,omitempty"`
	Index   uint64 `codec:"ix,omitempty"`
	// Entries to append (MsgApp) or to propose (MsgProp).
	Entries []Entry `codec:"e,omitempty"`
	// Commit is the sender's commit index (MsgApp, MsgHeartbeat).
	Commit uint64 `codec:"c,omitempty"`
	// Snapshot describes the snapshot of a MsgSnap or MsgStorageSnapResp.
	// Its data travels separately, streamed by the transport.
	Snapshot *SnapshotMeta `codec:"s,omitempty"`
	// Reject marks a refused request; RejectHint and LogTerm then carry the
	// follower's hint for fast back-off (Raft §5.3): the last index it may
	// share with the leader and that entry's term.
	Reject     bool   `codec:"r,omitempty"`
	RejectHint uint64 `codec:"rh,omitempty"`
	// Context is opaque to Raft: the request id of a read index request,
	// echoed in heartbeats and answers; the campaign kind of a transfer;
	// the target node's ID of a MsgTransferLeader a follower forwards to
	// the leader (From stays the forwarding node, as transports require;
	// a MsgTransferLeader without Context, stepped locally, targets From).
	Context []byte `codec:"x,omitempty"`
}

// String summarises m for logs and test failures.
func (m Message) String() string {
	return fmt.Sprintf("%s %s->%s term=%d logterm=%d index=%d commit=%d entries=%d reject=%v",
		m.Type, m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, len(m.Entries), m.Reject)
}
