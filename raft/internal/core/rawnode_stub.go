package core

import "github.com/mandate-raft/mandate/wire"

// RawNode is one Raft node's consensus state. It is not safe for concurrent
// use: one goroutine (the runtime's event loop, or the simulator) owns it.
type RawNode struct{}

// NewRawNode returns a core restarted from cfg.Storage and cfg.HardState,
// as a follower. The configuration is the newest one found in the log or
// the snapshot; a node with neither is a blank node that waits to be
// contacted by a leader of the cluster it will join.
func NewRawNode(cfg Config) (*RawNode, error) { panic("core: not implemented") }

// Tick advances the node's logical clock by one tick.
func (rn *RawNode) Tick() { panic("core: not implemented") }

// Step feeds one message into the node: a local message from the runtime
// or a message from a peer (see StepPeer). It returns ErrProposalDropped for
// a proposal that was not appended or forwarded.
func (rn *RawNode) Step(m wire.Message) error { panic("core: not implemented") }

// StepPeer steps a message that arrived from the network, refusing local
// message types and senders that are not members (unless the message comes
// from a leader with a term at least ours, as a new member first hears).
// Refused messages are logged at debug level and return an error.
func (rn *RawNode) StepPeer(m wire.Message) error { panic("core: not implemented") }

// Campaign starts an election now (MsgHup).
func (rn *RawNode) Campaign() error { panic("core: not implemented") }

// Propose appends entries (Type EntryNormal, Data, Origin, ProposalID and
// Time set by the caller; Index and Term set by the core) on the leader, or
// forwards them to the leader from a follower.
func (rn *RawNode) Propose(entries ...wire.Entry) error { panic("core: not implemented") }

// ProposeConfChange appends a membership change on the leader.
func (rn *RawNode) ProposeConfChange(cc ConfChange) error { panic("core: not implemented") }

// ReadIndex requests a read index for rctx; the answer arrives as a
// ReadState carrying rctx in a later Ready.
func (rn *RawNode) ReadIndex(rctx []byte) { panic("core: not implemented") }

// TransferLeader asks the leader to hand leadership to to.
func (rn *RawNode) TransferLeader(to wire.NodeID) { panic("core: not implemented") }

// ReportUnreachable tells the leader that a message to id could not be sent.
func (rn *RawNode) ReportUnreachable(id wire.NodeID) { panic("core: not implemented") }

// ReportSnapshot tells the leader that a snapshot transfer to id ended.
func (rn *RawNode) ReportSnapshot(id wire.NodeID, ok bool) { panic("core: not implemented") }

// HasReady reports whether Ready would return a non-empty batch.
func (rn *RawNode) HasReady() bool { panic("core: not implemented") }

// Ready hands over the work accumulated since the last call.
func (rn *RawNode) Ready() Ready { panic("core: not implemented") }

// Status returns a copy of the node's state.
func (rn *RawNode) Status() Status { panic("core: not implemented") }

// Bootstrap returns the entry that starts a new cluster with configuration
// c: the runtime of every founding member persists it as entry 1 (term 1)
// before creating the core.
func Bootstrap(c wire.Configuration) (wire.Entry, error) {
	if err := c.Validate(); err != nil {
		return wire.Entry{}, err
	}
	cc := c.Clone()
	return wire.Entry{Index: 1, Term: 1, Type: wire.EntryConfig, Config: &cc}, nil
}
