package core

import (
	"encoding/binary"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// FuzzStepPeer feeds arbitrary message sequences from the network into a
// leader and a follower: whatever arrives, the core must not panic, and
// its log must stay internally consistent.
func FuzzStepPeer(f *testing.F) {
	f.Add([]byte{3, 1, 2, 1, 0, 1, 0, 0, 2, 2})
	f.Add([]byte{4, 1, 2, 9, 9, 0, 0, 1, 0, 0, 5, 2, 2, 7, 1, 0, 0, 0, 0, 0})
	f.Add([]byte{9, 2, 3, 5, 1, 0, 0, 0, 0, 0, 11, 1, 2, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		members := ids(3)
		for _, lead := range []bool{false, true} {
			st := newMemStorageWith(entriesWithTerms(t, members, 1, 1, 2)...)
			rn := newTestRawNode(t, "n1", st, wire.HardState{Term: 2, Commit: 2}, nil)
			if lead {
				makeLeader(t, rn, st)
			}
			for b := data; len(b) >= 10; b = b[10:] {
				m := fuzzMessage(b[:10])
				_ = rn.StepPeer(m)
				drain(t, rn, st)
				s := rn.Status()
				if s.HardState.Commit > s.LastIndex || s.Applied > s.HardState.Commit || s.StableIndex > s.LastIndex {
					t.Fatalf("inconsistent after %v: %+v", m, s)
				}
			}
		}
	})
}

// fuzzMessage decodes 10 bytes into a message to n1.
func fuzzMessage(b []byte) wire.Message {
	from := wire.NodeID([]string{"n2", "n3", "x9", "n1"}[b[1]%4])
	m := wire.Message{
		Type:    wire.MessageType(b[0] % 24),
		From:    from,
		To:      "n1",
		Term:    uint64(b[2] % 6),
		Index:   uint64(b[3] % 12),
		LogTerm: uint64(b[4] % 6),
		Commit:  uint64(b[5] % 12),
		Reject:  b[6]&1 == 1,
	}
	m.RejectHint = uint64(binary.LittleEndian.Uint16(b[6:8]) % 12)
	for i := 0; i < int(b[8]%4); i++ {
		e := wire.Entry{Index: m.Index + 1 + uint64(i), Term: max(m.LogTerm, uint64(b[9]%6))}
		if b[9]&0x40 != 0 {
			e.Index += uint64(i) // a gap
		}
		if b[9]&0x80 != 0 {
			c := voters("n1", "n2", "n3", "n4")
			e.Type, e.Config = wire.EntryConfig, &c
		}
		m.Entries = append(m.Entries, e)
	}
	if m.Type == wire.MsgSnap && b[9]&1 == 1 {
		m.Snapshot = &wire.SnapshotMeta{Index: uint64(b[5] % 12), Term: uint64(b[4] % 6), Config: voters("n1", "n2", "n3")}
	}
	if b[9]&2 != 0 {
		m.Context = []byte{b[7]}
	}
	return m
}
