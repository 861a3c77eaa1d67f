package tcp

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// benchMessages are the messages of the replication hot path: a MsgApp of
// 64 entries of 128 bytes as a leader sends them, its answer, and a
// heartbeat.
func benchMessages() map[string]wire.Message {
	entries := make([]wire.Entry, 64)
	for i := range entries {
		entries[i] = wire.Entry{Index: 1_000_000 + uint64(i), Term: 7, Type: wire.EntryNormal,
			Data: make([]byte, 128), Origin: "n1", ProposalID: 5_000_000 + uint64(i), Time: 1_764_000_000_000_000_000}
	}
	return map[string]wire.Message{
		"MsgApp64":     {Type: wire.MsgApp, From: "n1", To: "n2", Term: 7, LogTerm: 7, Index: 999_999, Commit: 999_900, Entries: entries},
		"MsgAppResp":   {Type: wire.MsgAppResp, From: "n2", To: "n1", Term: 7, Index: 1_000_063},
		"MsgHeartbeat": {Type: wire.MsgHeartbeat, From: "n1", To: "n2", Term: 7, Commit: 999_900},
	}
}

// BenchmarkEncode measures encoding one message into its frame payload.
func BenchmarkEncode(b *testing.B) {
	for _, name := range []string{"MsgApp64", "MsgAppResp", "MsgHeartbeat"} {
		m := benchMessages()[name]
		b.Run(name, func(b *testing.B) {
			enc := newMsgEncoder()
			p, err := enc.encode(&m)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.encode(&m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode measures decoding one frame payload into a message.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"MsgApp64", "MsgAppResp", "MsgHeartbeat"} {
		m := benchMessages()[name]
		b.Run(name, func(b *testing.B) {
			p := encodeForTest(b, m)
			dec := newMsgDecoder()
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				got, err := dec.decode(p)
				if err != nil {
					b.Fatal(err)
				}
				if len(got.Entries) != len(m.Entries) {
					b.Fatalf("%d entries decoded, want %d", len(got.Entries), len(m.Entries))
				}
			}
		})
	}
}
