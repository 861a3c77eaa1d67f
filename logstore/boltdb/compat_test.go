package boltdb

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/mandate-raft/mandate/logstore/logstoretest"
)

// The file keeps raft-boltdb's layout: raft-boltdb reads the records this
// store writes (the same Index, Term, Type and Data), and this store reads
// records raft-boltdb writes.
func TestFileLayoutIsRaftBoltDBs(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	ents := logstoretest.Make(1, 4, 7)
	ents[1].Data = bytes.Repeat([]byte{0xab}, 70000) // a 32-bit length
	if err := s.StoreEntries(ents); err != nil {
		t.Fatal(err)
	}
	want := make([]raft.Log, len(ents))
	for i := range ents {
		if err := s.db.GetLog(ents[i].Index, &want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	rb, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, FileName)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ents {
		var got raft.Log
		if err := rb.GetLog(ents[i].Index, &got); err != nil {
			t.Fatalf("raft-boltdb GetLog(%d): %v", ents[i].Index, err)
		}
		if got.Index != want[i].Index || got.Term != want[i].Term || got.Type != want[i].Type || !bytes.Equal(got.Data, want[i].Data) {
			t.Fatalf("raft-boltdb read record %d as %+v, want %+v", ents[i].Index, got, want[i])
		}
	}
	// raft-boltdb's own encoding of the next entry's record.
	more := logstoretest.Make(4, 5, 7)
	logs, err := newEncoder().records(more, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := rb.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir)
	defer s.Close()
	got, err := s.Entries(1, 5, 0)
	if err != nil || len(got) != 4 || !bytes.Equal(got[1].Data, ents[1].Data) || got[3].Index != 4 || got[3].Term != 7 || !bytes.Equal(got[3].Data, more[0].Data) {
		t.Fatalf("Entries after raft-boltdb appended: %d entries, %v", len(got), err)
	}
	if err := s.db.GetLog(99, new(raft.Log)); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog of a missing index: %v, want raft.ErrLogNotFound", err)
	}
}
