package transporttest

import "github.com/mandate-raft/mandate/wire"

// Messages returns one message of every type that crosses the network,
// from "from" to "to", with every field that type may carry set to a
// distinctive non-zero value, plus a message with only its header set.
// A transport must deliver each of them unchanged.
func Messages(from, to wire.NodeID) []wire.Message {
	cfg := wire.Configuration{Servers: []wire.Server{
		{ID: "a", Address: "10.0.0.1:7000", Role: wire.Voter},
		{ID: "b", Address: "10.0.0.2:7000", Role: wire.Voter},
		{ID: "c", Address: "10.0.0.3:7000", Role: wire.Learner},
	}}
	entries := []wire.Entry{
		{Index: 41, Term: 6, Type: wire.EntryNoop},
		{Index: 42, Term: 7, Type: wire.EntryNormal, Data: []byte("set x=1"), Origin: "c", ProposalID: 99, Time: 1_700_000_000_123_456_789},
		{Index: 43, Term: 7, Type: wire.EntryConfig, Config: &cfg},
		{Index: 44, Term: 7, Type: wire.EntryNormal, Data: []byte{0, 0xff, 0x80, 0x7f}},
	}
	snap := &wire.SnapshotMeta{ID: "7-40-abc", Index: 40, Term: 6, Config: cfg.Clone(), Size: 1 << 20, Checksum: 0xdeadbeef}
	var out []wire.Message
	for t := wire.MessageType(0); t.Valid(); t++ {
		if t.IsLocal() {
			continue
		}
		m := wire.Message{
			Type: t, To: to, From: from, Term: 7, LogTerm: 6, Index: 40,
			Commit: 39, Reject: true, RejectHint: 38, Context: []byte("ctx-" + t.String()),
		}
		switch t {
		case wire.MsgApp, wire.MsgProp:
			m.Entries = entries
		case wire.MsgSnap:
			m.Snapshot = snap
		}
		out = append(out, m)
	}
	out = append(out, wire.Message{Type: wire.MsgHeartbeat, To: to, From: from, Term: 1})
	return out
}
