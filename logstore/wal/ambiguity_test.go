package wal

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// Damage that looks like a torn append must still be reported when
// acknowledged frames follow it: an append is the last write to the file,
// so nothing written can follow the frame it tore. Each case here was
// once taken for a torn append, dropping every acknowledged entry from
// the damaged one on.

// tenBatchesOf10 stores entries 1..100 in appends of ten and returns the
// store, still open.
func tenBatchesOf10(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s := openT(t, dir, opts)
	for i := uint64(1); i < 101; i += 10 {
		store(t, s, logstoretest.Make(i, i+10, 1))
	}
	return s
}

func TestDamagedSizeFieldFollowedByFramesIsErrCorrupt(t *testing.T) {
	for _, c := range []struct {
		name string
		off  int64 // into the frame of entry 57
		bit  uint
	}{
		{"SizePastTheEndOfTheFile", 0, 6},        // the size's top byte
		{"SizeIntoTheReservedSpace", 1, 0},       // +64 KiB: reads zeros
		{"SizeOneByteShort", 3, 0},               // the frame ends inside itself
		{"ChecksumOfTheDamagedFrame", 4, 3},      // the next frame no longer chains to it
		{"IndexInsideTheDamagedFrame", 8 + 7, 1}, // caught by the checksum
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := tenBatchesOf10(t, dir, Options{})
			path, off, _ := frameOf(t, s, 57)
			closeT(t, s)
			flipBit(t, path, off+c.off, c.bit)
			openWantCorrupt(t, dir, Options{}, "Open after damage to entry 57", filepath.Base(path))
		})
	}
}

// A payload can hold whole sectors of zeros (binary data often does); a
// flipped bit elsewhere in such an entry is damage, not a torn append.
func TestDamagedEntryWithZeroSectorsInItsPayloadIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	e := logstoretest.Make(1, 11, 1)
	e[4].Data = make([]byte, 2048)
	for i := range e {
		store(t, s, e[i:i+1])
	}
	path, off, size := frameOf(t, s, 5)
	closeT(t, s)
	flipBit(t, path, off+frameHeadLen+int64(size)-5, 0)
	openWantCorrupt(t, dir, Options{}, "Open after damage to entry 5", filepath.Base(path))
}

// After a power loss a disk may write a later sector of an append but not
// an earlier one. Where the file system never wrote a block, it reports a
// hole, and Open takes what follows the hole for the torn rest of the
// append (dataEnd). But a sector that reads as zeros inside a written
// block, with written frames after it, cannot be told from damage to an
// acknowledged frame (above), and the store says so rather than guess: the
// node refuses to start, and is repaired from the leader
// (docs/operations.md). Guessing "torn" would drop acknowledged entries
// whenever the damage is real. (Zeros written over the sector, as here,
// leave no hole.)
func TestUnwrittenSectorFollowedByWrittenFramesIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	for i := uint64(1); i < 21; i += 10 {
		store(t, s, logstoretest.Make(i, i+10, 1))
	}
	batch := make([]wire.Entry, 3)
	for i := range batch {
		// Frames of several sectors, none of them zeros.
		batch[i] = wire.Entry{Index: uint64(21 + i), Term: 1, Type: wire.EntryNormal, Data: bytes.Repeat([]byte{0x5a}, 1500)}
	}
	store(t, s, batch)
	path, off, _ := frameOf(t, s, 21)
	closeT(t, s)
	from := (off + sectorSize - 1) / sectorSize * sectorSize
	overwrite(t, path, from, make([]byte, sectorSize))
	openWantCorrupt(t, dir, Options{}, "Open", filepath.Base(path))
}

// A zeroed header is damage unless the segment holds no frame: headers are
// made durable before any frame is written.
func TestZeroedHeaderOfASegmentWithFramesIsErrCorrupt(t *testing.T) {
	for _, which := range []string{"last", "sealed"} {
		t.Run(which, func(t *testing.T) {
			dir, opts := t.TempDir(), Options{SegmentSize: smallSegments}
			segs := writeSegments(t, dir, opts)
			victim := segs[len(segs)-1]
			if which == "sealed" {
				victim = segs[1]
			}
			overwrite(t, victim, 0, make([]byte, segHeaderLen))
			openWantCorrupt(t, dir, opts, "Open", filepath.Base(victim))
		})
	}
}

// The hard state is the node's vote: losing it could let the node vote
// twice in a term. With both slots damaged the store must refuse to open
// even when it holds no segment (as after installing a snapshot), never
// start afresh.
func TestBothMetaSlotsDamagedWithoutSegmentsIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	for _, hs := range []wire.HardState{{Term: 7, Vote: "n2"}, {Term: 8, Vote: "n3"}} {
		if err := s.SetHardState(hs); err != nil {
			t.Fatal(err)
		}
	}
	closeT(t, s)
	p := filepath.Join(dir, metaFileName)
	flipBit(t, p, 100, 2)
	flipBit(t, p, metaSlotLen+100, 2)
	s, err := Open(dir, Options{})
	if err == nil {
		hs, ok, _ := s.HardState()
		s.Close()
		t.Fatalf("Open succeeded with hard state %+v (%v); want ErrCorrupt", hs, ok)
	}
	if !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}
