package boltdb

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// FuzzDecodeRecord feeds arbitrary stored records to the decoder: it must
// never panic, anything it rejects is ErrCorrupt, and what it accepts are
// consecutive entries from the record's key.
func FuzzDecodeRecord(f *testing.F) {
	enc := newEncoder()
	ents := logstoretest.Make(1, 5, 2)
	ents[2].Type, ents[2].Config = wire.EntryConfig, &wire.Configuration{Servers: []wire.Server{{ID: "n1", Address: "a:1"}}}
	for _, batch := range [][]wire.Entry{ents, ents[:1]} {
		logs, err := enc.records(batch, 6, 7, []uint64{9})
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range logs {
			f.Add(l.Index, l.Term, uint8(l.Type), append([]byte(nil), l.Data...))
		}
	}
	f.Fuzz(func(t *testing.T, index, term uint64, typ uint8, data []byte) {
		l := raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data}
		rec, err := parseRecord(index, &l)
		if err != nil {
			if !errors.Is(err, logstore.ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		if rec.tombstone {
			return
		}
		if index+rec.n < index {
			t.Fatalf("record of %d entries at %d overflows", rec.n, index)
		}
		got, err := rec.entries(nil, index, index+rec.n)
		if err != nil && !errors.Is(err, logstore.ErrCorrupt) {
			t.Fatalf("error not wrapping ErrCorrupt: %v", err)
		}
		for i, ent := range got {
			if ent.Index != index+uint64(i) || (i == 0 && ent.Term != term) {
				t.Fatalf("decoded entry %d/%d at position %d of a record %d/%d", ent.Index, ent.Term, i, index, term)
			}
		}
	})
}

// FuzzDecodeHardState: the hard state decoder never panics and reports
// damage as ErrCorrupt.
func FuzzDecodeHardState(f *testing.F) {
	good, err := entrycodec.EncodeHardState(hsSample)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := entrycodec.DecodeHardState(b); err != nil && !errors.Is(err, logstore.ErrCorrupt) {
			t.Fatalf("error not wrapping ErrCorrupt: %v", err)
		}
	})
}

var hsSample = wire.HardState{Term: 3, Vote: "n2", Commit: 7}
