package core

import (
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// persist writes rd to st the way the runtime does, and steps the
// durability acknowledgements back into rn. It returns every message rd
// allows to be sent once durable (Messages then DurableMessages).
func persist(t *testing.T, rn *RawNode, st *memStorage, rd Ready) []wire.Message {
	t.Helper()
	if rd.Snapshot != nil {
		st.installSnapshot(*rd.Snapshot)
	}
	st.write(rd.Entries)
	if rd.Snapshot != nil {
		if err := rn.Step(wire.Message{Type: wire.MsgStorageSnapResp, Snapshot: rd.Snapshot}); err != nil {
			t.Fatal(err)
		}
	}
	if k := len(rd.Entries); k > 0 {
		last := rd.Entries[k-1]
		if err := rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: last.Index, LogTerm: last.Term}); err != nil {
			t.Fatal(err)
		}
	}
	return append(append([]wire.Message(nil), rd.Messages...), rd.DurableMessages...)
}

// drain persists Readys until none is left and returns the messages.
func drain(t *testing.T, rn *RawNode, st *memStorage) []wire.Message {
	t.Helper()
	var out []wire.Message
	for rn.HasReady() {
		out = append(out, persist(t, rn, st, rn.Ready())...)
	}
	return out
}

// filter returns the messages of type typ (to to, if not None).
func filter(msgs []wire.Message, typ wire.MessageType, to wire.NodeID) []wire.Message {
	var out []wire.Message
	for _, m := range msgs {
		if m.Type == typ && (to == None || m.To == to) {
			out = append(out, m)
		}
	}
	return out
}

// entriesWithTerms builds log entries 1..len(terms), entry 1 being the
// bootstrap configuration of members.
func entriesWithTerms(t *testing.T, members []wire.NodeID, terms ...uint64) []wire.Entry {
	t.Helper()
	boot := mustBootstrap(t, members...)
	boot.Term = terms[0]
	ents := []wire.Entry{boot}
	for i, term := range terms[1:] {
		ents = append(ents, wire.Entry{Index: uint64(i + 2), Term: term, Data: []byte{byte(i + 2), byte(term)}})
	}
	return ents
}

// makeLeader makes rn (over st, a 3-voter config n1 n2 n3) the leader:
// it campaigns, the other voters grant, and the Readys are persisted. It
// returns the messages the leader sent.
func makeLeader(t *testing.T, rn *RawNode, st *memStorage) []wire.Message {
	t.Helper()
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	msgs := drain(t, rn, st)
	term := rn.Status().HardState.Term
	for _, m := range filter(msgs, wire.MsgVote, None) {
		if err := rn.StepPeer(wire.Message{Type: wire.MsgVoteResp, From: m.To, To: m.From, Term: term}); err != nil {
			t.Fatal(err)
		}
	}
	if rn.Status().SoftState.State != StateLeader {
		t.Fatalf("not leader after votes: %+v", rn.Status().SoftState)
	}
	return drain(t, rn, st)
}

func wireEntry(data string) wire.Entry { return wire.Entry{Data: []byte(data)} }
