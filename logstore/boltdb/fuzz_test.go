package boltdb

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// FuzzDecodeRecord feeds arbitrary stored records to the decoder: it must
// never panic, and anything it rejects is ErrCorrupt.
func FuzzDecodeRecord(f *testing.F) {
	enc := newEncoder()
	logs, err := enc.records(logstoretest.Make(1, 3, 2), 3, 4)
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range logs {
		f.Add(l.Index, l.Term, uint8(l.Type), append([]byte(nil), l.Data...))
	}
	f.Fuzz(func(t *testing.T, index, term uint64, typ uint8, data []byte) {
		l := raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data}
		ent, ok, err := decodeRecord(index, &l)
		if err != nil && !errors.Is(err, logstore.ErrCorrupt) {
			t.Fatalf("error not wrapping ErrCorrupt: %v", err)
		}
		if ok && (ent.Index != index || ent.Term != term) {
			t.Fatalf("decoded entry %d/%d from a record %d/%d", ent.Index, ent.Term, index, term)
		}
	})
}

// FuzzDecodeHardState: the hard state decoder never panics and reports
// damage as ErrCorrupt.
func FuzzDecodeHardState(f *testing.F) {
	good, err := encodeHardState(hsSample)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := decodeHardState(b); err != nil && !errors.Is(err, logstore.ErrCorrupt) {
			t.Fatalf("error not wrapping ErrCorrupt: %v", err)
		}
	})
}

var hsSample = wire.HardState{Term: 3, Vote: "n2", Commit: 7}
