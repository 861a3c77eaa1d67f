package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// These tests damage the files the way a crash or a failing disk does and
// check what Open and the reads then promise: damage to anything that was
// acknowledged is logstore.ErrCorrupt naming what is damaged, never data
// and never a silent loss; what a crash tore before it was acknowledged is
// cut off; what a cut removed never comes back.

// store writes entries and fails the test if it cannot.

// sectorSize is the unit a disk writes whole: a crash leaves each sector
// of an interrupted write old or new.
const sectorSize = 512

func store(t *testing.T, s *Store, entries []wire.Entry) {
	t.Helper()
	if err := s.StoreEntries(entries); err != nil {
		t.Fatalf("StoreEntries [%d, %d]: %v", entries[0].Index, entries[len(entries)-1].Index, err)
	}
}

// closeT closes s and fails the test if it cannot.
func closeT(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// openClean opens dir and closes the store when the test ends.
func openClean(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s := openT(t, dir, opts)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// bigEntries returns entries [lo, hi) in term whose payloads are n bytes,
// distinct for each index and term, so that frames span several sectors.
func bigEntries(lo, hi, term uint64, n int) []wire.Entry {
	out := logstoretest.Make(lo, hi, term)
	for i := range out {
		head := logstoretest.Payload(out[i].Index, term)
		out[i].Data = append(head, bytes.Repeat([]byte{byte(out[i].Index*31 + term)}, n-len(head))...)
	}
	return out
}

// wantLog fails the test unless s holds exactly want, bounds included.
func wantLog(t *testing.T, s *Store, want []wire.Entry) {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		if first != 0 || last != 0 {
			t.Fatalf("bounds [%d, %d], want an empty log", first, last)
		}
		return
	}
	if first != want[0].Index || last != want[len(want)-1].Index {
		t.Fatalf("bounds [%d, %d], want [%d, %d]", first, last, want[0].Index, want[len(want)-1].Index)
	}
	got, err := s.Entries(first, last+1, 0)
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", first, last+1, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Entries(%d, %d): %d entries, want %d", first, last+1, len(got), len(want))
	}
	for i := range got {
		if !logstoretest.EntryEqual(got[i], want[i]) {
			t.Fatalf("entry %d: got %+v, want %+v", want[i].Index, got[i], want[i])
		}
	}
}

// frameOf returns the file, offset and body size of the frame of index
// in an open store (white-box: where the damage goes).
func frameOf(t *testing.T, s *Store, index uint64) (path string, off int64, size uint32) {
	t.Helper()
	s.viewMu.RLock()
	defer s.viewMu.RUnlock()
	if index < s.first || index > s.last {
		t.Fatalf("frameOf(%d): outside [%d, %d]", index, s.first, s.last)
	}
	g := s.segmentOf(index)
	loc := g.frames[index-g.base]
	return g.path, loc.off, loc.size
}

// segmentPaths returns the segment files in dir, in index order.
func segmentPaths(t *testing.T, dir string) []string {
	t.Helper()
	bases, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, b := range bases {
		paths = append(paths, filepath.Join(dir, segName(b)))
	}
	return paths
}

// flipBit flips one bit of the byte at off in the file at path.
func flipBit(t *testing.T, path string, off int64, bit uint) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1 << bit
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// overwrite writes b at off in the file at path.
func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// openWantCorrupt opens the store in dir and fails the test unless Open
// fails with logstore.ErrCorrupt naming every one of names.
func openWantCorrupt(t *testing.T, dir string, opts Options, what string, names ...string) {
	t.Helper()
	s, err := Open(dir, opts)
	if err == nil {
		last, _ := s.LastIndex()
		s.Close()
		t.Fatalf("%s succeeded with last index %d; want logstore.ErrCorrupt", what, last)
	}
	wantCorrupt(t, err, what, names...)
}

// writeSegments stores entries 1..200 in appends of ten into a closed
// store in dir with opts' small segments, and returns the segment files:
// several, so that there are sealed ones.
func writeSegments(t *testing.T, dir string, opts Options) []string {
	t.Helper()
	s := openT(t, dir, opts)
	for i := uint64(1); i < 201; i += 10 {
		store(t, s, logstoretest.Make(i, i+10, 1))
	}
	closeT(t, s)
	segs := segmentPaths(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments; the test means a log of several", len(segs))
	}
	return segs
}

// wantCorrupt fails the test unless err wraps logstore.ErrCorrupt and its
// text holds every one of names.
func wantCorrupt(t *testing.T, err error, what string, names ...string) {
	t.Helper()
	if !errors.Is(err, logstore.ErrCorrupt) {
		t.Fatalf("%s: got %v, want logstore.ErrCorrupt", what, err)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Fatalf("%s: %v does not name %q", what, err, n)
		}
	}
}

// A flipped bit in an acknowledged entry must be reported, naming the
// entry, whether the entry is in the segment being written or in a sealed
// one, and whichever field of its frame the bit is in: a store that
// returned the damaged entry would feed a state machine wrong commands,
// and one that dropped it (and the entries after it) would lose
// acknowledged writes. Open scans every frame, so it is Open that fails.
func TestFlippedBitInAnAcknowledgedEntryIsErrCorruptNamingIt(t *testing.T) {
	// Where in the frame the bit is, relative to the frame's offset.
	fields := []struct {
		name string
		at   func(size uint32) int64
	}{
		{"SizeLowBit", func(uint32) int64 { return 3 }},
		{"Checksum", func(uint32) int64 { return 5 }},
		{"Index", func(uint32) int64 { return frameHeadLen + 7 }},
		{"Term", func(uint32) int64 { return frameHeadLen + 15 }},
		{"Payload", func(size uint32) int64 { return frameHeadLen + int64(size) - 3 }},
	}
	layouts := []struct {
		name   string
		opts   Options
		victim uint64 // the entry damaged, in a segment with frames after it
		sealed bool
	}{
		// One segment: the victim is in the segment Open treats as the
		// tail, where a torn append is cut off, but frames follow it.
		{"TailSegment", Options{}, 57, false},
		{"SealedSegment", Options{SegmentSize: smallSegments}, 5, true},
	}
	for _, l := range layouts {
		for _, fl := range fields {
			t.Run(l.name+"/"+fl.name, func(t *testing.T) {
				dir := t.TempDir()
				s := openT(t, dir, l.opts)
				want := logstoretest.Make(1, 101, 1)
				for i := 0; i < len(want); i += 10 {
					store(t, s, want[i:i+10])
				}
				path, off, size := frameOf(t, s, l.victim)
				if segs := segmentPaths(t, dir); l.sealed == (path == segs[len(segs)-1]) {
					t.Fatalf("entry %d is in %s of %d segments; the layout is not what the test means", l.victim, path, len(segs))
				}
				closeT(t, s)
				flipBit(t, path, off+fl.at(size), 0)

				openWantCorrupt(t, dir, l.opts, "a flipped bit in entry", path, "entry "+itoa(l.victim))
			})
		}
	}
}

// A sealed segment was completely written before the next one was
// started, so nothing in it can be a torn append: a sector that reads as
// zeros there (a lost write, a bad block) is damage to acknowledged
// entries, whether it hides a frame's head (the segment then seems to end
// early) or lies inside a frame.
func TestZeroedSectorInASealedSegmentIsErrCorrupt(t *testing.T) {
	for _, sector := range []int64{1, 2, 3} { // sector 0 holds the header (see TestDamagedHeaderOfASealedSegmentIsErrCorrupt)
		t.Run("Sector"+itoa(uint64(sector)), func(t *testing.T) {
			dir, opts := t.TempDir(), Options{SegmentSize: smallSegments}
			segs := writeSegments(t, dir, opts)
			overwrite(t, segs[1], sector*sectorSize, make([]byte, sectorSize))
			openWantCorrupt(t, dir, opts, "Open with a zeroed sector in a sealed segment", segs[1])
		})
	}
}

// Damage that happens while the store is open is found by the read that
// meets it: Entries reports it naming the entry, and the entries before it
// stay readable.
func TestFlippedBitUnderAnOpenStoreIsErrCorruptFromEntries(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: smallSegments, CacheEntries: -1}
	s := openClean(t, dir, opts)
	want := logstoretest.Make(1, 101, 1)
	store(t, s, want)
	for _, victim := range []uint64{5, 97} { // a sealed segment, then the tail
		path, off, size := frameOf(t, s, victim)
		flipBit(t, path, off+frameHeadLen+int64(size)-2, 3)
		_, err := s.Entries(1, 101, 0)
		wantCorrupt(t, err, "Entries over a flipped bit", path, "entry "+itoa(victim))
		if _, err := s.Entries(victim, victim+1, 0); !errors.Is(err, logstore.ErrCorrupt) {
			t.Fatalf("Entries(%d) alone: got %v, want ErrCorrupt", victim, err)
		}
		got, err := s.Entries(1, 5, 0)
		if err != nil || len(got) != 4 {
			t.Fatalf("Entries(1, 5) before the damage: %d entries, %v", len(got), err)
		}
		flipBit(t, path, off+frameHeadLen+int64(size)-2, 3) // repair
	}
}

// torn simulates a crash in the middle of the last append: the disk never
// wrote some of its sectors, which then read as zeros (or, without space
// reserved, the file ends early). Open must cut the torn frame and what
// follows it, keep every entry before, and the log must go on from there.
func TestTornFinalAppendIsCutOffAtOpen(t *testing.T) {
	const payload = 1500 // a frame spans several sectors
	cases := []struct {
		name string
		opts Options
		// damage tears the last batch, entries [21, 24), whose frames
		// are at offs (one past the last: end) in path.
		damage func(t *testing.T, path string, offs []int64, end int64)
		last   uint64 // the last entry left
	}{
		{"FirstSectorsOfTheBatchUnwritten", Options{}, func(t *testing.T, path string, offs []int64, end int64) {
			// Every sector wholly inside the batch: the one it
			// shares with entry 20 was written.
			from := (offs[0] + sectorSize - 1) / sectorSize * sectorSize
			overwrite(t, path, from, make([]byte, end-from))
		}, 20},
		{"OneSectorOfTheLastFrameUnwritten", Options{}, func(t *testing.T, path string, offs []int64, end int64) {
			from := (offs[2]+sectorSize-1)/sectorSize*sectorSize + sectorSize
			overwrite(t, path, from, make([]byte, sectorSize))
		}, 22},
		{"FileEndsInTheLastFrame", Options{}, func(t *testing.T, path string, offs []int64, end int64) {
			if err := os.Truncate(path, offs[2]+frameHeadLen+100); err != nil {
				t.Fatal(err)
			}
		}, 22},
		{"FileEndsInTheLastFrameHead", Options{}, func(t *testing.T, path string, offs []int64, end int64) {
			if err := os.Truncate(path, offs[2]+3); err != nil {
				t.Fatal(err)
			}
		}, 22},
		// The batch started a segment of its own: Open keeps the
		// segment, empty, and the log ends in the one before.
		{"BatchThatStartedASegmentUnwritten", Options{SegmentSize: 8 << 10}, func(t *testing.T, path string, offs []int64, end int64) {
			if offs[0] != segHeaderLen {
				t.Fatalf("the last batch starts at %d: it did not start a segment", offs[0])
			}
			overwrite(t, path, segHeaderLen, make([]byte, end-segHeaderLen))
		}, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, c.opts)
			want := bigEntries(1, 21, 1, payload)
			for i := 0; i < 20; i += 4 {
				store(t, s, want[i:i+4])
			}
			store(t, s, bigEntries(21, 24, 1, payload))
			var path string
			var offs []int64
			for idx := uint64(21); idx < 24; idx++ {
				p, off, _ := frameOf(t, s, idx)
				path, offs = p, append(offs, off)
			}
			_, off, size := frameOf(t, s, 23)
			closeT(t, s)
			c.damage(t, path, offs, off+frameHeadLen+int64(size))

			s = openT(t, dir, c.opts)
			want = append(want, bigEntries(21, c.last+1, 1, payload)...)
			wantLog(t, s, want)
			// The log goes on where the torn append left it, and the
			// new entries survive another reopen.
			next := bigEntries(c.last+1, c.last+4, 2, payload)
			store(t, s, next)
			closeT(t, s)
			s = openClean(t, dir, c.opts)
			wantLog(t, s, append(want, next...))
		})
	}
}

// A cut that a shorter log then overwrites leaves the old frames' bytes
// behind unless the store removes them; a reopen must serve exactly the
// new log, never an old frame after its end. The new frames have the same
// sizes as the old ones, so an old frame lies exactly where the next new
// one would: only the cut (and the checksum chained to the frame before)
// keeps it out.
func TestStaleFrameLeftByACutIsNeverReadBack(t *testing.T) {
	for _, v := range []struct {
		name string
		opts Options
	}{
		{"OneSegment", Options{}},
		// The cut removes whole segments and cuts into the one before.
		{"SmallSegments", Options{SegmentSize: smallSegments}},
	} {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, v.opts)
			for i := uint64(1); i <= 200; i += 20 {
				store(t, s, logstoretest.Make(i, i+20, 1))
			}
			before := len(segmentPaths(t, dir))
			// Replace [60, 200] by [60, 70) of term 2, then that by
			// [65, 68) of term 3.
			store(t, s, logstoretest.Make(60, 70, 2))
			store(t, s, logstoretest.Make(65, 68, 3))
			want := append(logstoretest.Make(1, 60, 1), logstoretest.Make(60, 65, 2)...)
			want = append(want, logstoretest.Make(65, 68, 3)...)
			wantLog(t, s, want)
			if after := len(segmentPaths(t, dir)); v.opts.SegmentSize != 0 && after >= before {
				t.Fatalf("%d segments before the cut and %d after: the cut removed none", before, after)
			}
			closeT(t, s)
			s = openClean(t, dir, v.opts)
			wantLog(t, s, want)
			// Appending after the reopen does not bring an old frame
			// back either.
			store(t, s, logstoretest.Make(68, 70, 4))
			closeT(t, s)
			s = openClean(t, dir, v.opts)
			wantLog(t, s, append(want, logstoretest.Make(68, 70, 4)...))
		})
	}
}

// metaSlots returns the offset of the slot holding the latest state and
// of the other one (white-box: the slot with the higher sequence).
func metaSlots(t *testing.T, dir string) (latest, other int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, metaFileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 2*metaSlotLen {
		t.Fatalf("meta file of %d bytes, want %d", len(b), 2*metaSlotLen)
	}
	if binary.BigEndian.Uint64(b[8:]) > binary.BigEndian.Uint64(b[metaSlotLen+8:]) {
		return 0, metaSlotLen
	}
	return metaSlotLen, 0
}

// A crash while the meta file is written tears only the slot being
// written: the other one holds the state before, which must be what a
// reopen finds (the write was never acknowledged), and the store must go
// on from it.
func TestTornMetaWriteLeavesThePreviousHardState(t *testing.T) {
	before := wire.HardState{Term: 4, Vote: "n2", Commit: 10}
	torn := wire.HardState{Term: 5, Vote: "n3", Commit: 12}
	for _, c := range []struct {
		name string
		tear func(t *testing.T, path string, slot int64)
	}{
		{"SecondHalfZeros", func(t *testing.T, path string, slot int64) {
			overwrite(t, path, slot+metaSlotLen/2, make([]byte, metaSlotLen/2))
		}},
		{"SecondHalfGarbage", func(t *testing.T, path string, slot int64) {
			overwrite(t, path, slot+metaSlotLen/2, bytes.Repeat([]byte{0xa5}, metaSlotLen/2))
		}},
		{"FirstSectorOnly", func(t *testing.T, path string, slot int64) {
			// The new slot's first sector landed, the rest is the
			// slot's previous content (two writes ago).
			overwrite(t, path, slot+sectorSize, bytes.Repeat([]byte{0x11}, metaSlotLen-sectorSize))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, Options{})
			want := logstoretest.Make(1, 31, 1)
			store(t, s, want)
			if err := s.SetHardState(wire.HardState{Term: 3, Vote: "n1", Commit: 1}); err != nil {
				t.Fatal(err)
			}
			if err := s.SetHardState(before); err != nil {
				t.Fatal(err)
			}
			if err := s.SetHardState(torn); err != nil {
				t.Fatal(err)
			}
			closeT(t, s)
			slot, _ := metaSlots(t, dir)
			c.tear(t, filepath.Join(dir, metaFileName), slot)

			s = openT(t, dir, Options{})
			if got, ok, err := s.HardState(); err != nil || !ok || got != before {
				t.Fatalf("HardState after a torn meta write: %+v, %v, %v; want %+v", got, ok, err, before)
			}
			wantLog(t, s, want)
			// The next write replaces the torn slot, and both survive
			// a reopen.
			next := wire.HardState{Term: 6, Vote: "n1", Commit: 20}
			if err := s.SetHardState(next); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteBefore(11); err != nil {
				t.Fatal(err)
			}
			closeT(t, s)
			s = openClean(t, dir, Options{})
			if got, ok, err := s.HardState(); err != nil || !ok || got != next {
				t.Fatalf("HardState after writing over the torn slot: %+v, %v, %v; want %+v", got, ok, err, next)
			}
			wantLog(t, s, want[10:])
		})
	}
	// A file that ends in the middle of the second slot: the first
	// write to that slot was torn.
	t.Run("FileEndsInTheSecondSlot", func(t *testing.T) {
		dir := t.TempDir()
		s := openT(t, dir, Options{})
		store(t, s, logstoretest.Make(1, 11, 1))
		if err := s.SetHardState(before); err != nil { // the first slot
			t.Fatal(err)
		}
		if err := s.SetHardState(torn); err != nil { // the second slot
			t.Fatal(err)
		}
		closeT(t, s)
		if latest, _ := metaSlots(t, dir); latest != metaSlotLen {
			t.Fatalf("the latest state is in the slot at %d; the test means the second", latest)
		}
		if err := os.Truncate(filepath.Join(dir, metaFileName), metaSlotLen+100); err != nil {
			t.Fatal(err)
		}
		s = openClean(t, dir, Options{})
		if got, ok, err := s.HardState(); err != nil || !ok || got != before {
			t.Fatalf("HardState: %+v, %v, %v; want %+v", got, ok, err, before)
		}
	})
}

// With both slots damaged the store no longer knows its term, vote or
// compaction point: starting with none could make the node vote twice in
// a term, so Open must refuse.
func TestBothMetaSlotsDamagedIsErrCorrupt(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"BitFlips", func(t *testing.T, path string) {
			flipBit(t, path, 100, 2)
			flipBit(t, path, metaSlotLen+100, 2)
		}},
		{"Garbage", func(t *testing.T, path string) {
			overwrite(t, path, 0, bytes.Repeat([]byte("garbage!"), 2*metaSlotLen/8))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, Options{})
			store(t, s, logstoretest.Make(1, 11, 1))
			if err := s.SetHardState(wire.HardState{Term: 2, Vote: "n2"}); err != nil {
				t.Fatal(err)
			}
			closeT(t, s)
			path := filepath.Join(dir, metaFileName)
			c.damage(t, path)
			openWantCorrupt(t, dir, Options{}, "Open with both meta slots damaged", path)
		})
	}
}

// Without the meta file the store does not know its hard state or where
// the log starts; segment files show it had one, so it must not start
// empty as if it were new.
func TestMissingMetaFileWithSegmentsIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	store(t, s, logstoretest.Make(1, 11, 1))
	if err := s.SetHardState(wire.HardState{Term: 2, Vote: "n2"}); err != nil {
		t.Fatal(err)
	}
	closeT(t, s)
	if err := os.Remove(filepath.Join(dir, metaFileName)); err != nil {
		t.Fatal(err)
	}
	openWantCorrupt(t, dir, Options{}, "Open without a meta file", dir)
}

// A crash while a segment is created leaves a file whose header was never
// completely written, and no frame in it was ever acknowledged: Open
// removes it if it is the last, and the log is what it was.
func TestTornHeaderOfTheLastSegmentIsRemovedAtOpen(t *testing.T) {
	half := encodeHeader(61)[:segHeaderLen/2]
	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"Empty", nil},
		{"HalfAHeader", half},
		{"SpaceReservedHeaderUnwritten", make([]byte, smallSegments)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: smallSegments}
			s := openT(t, dir, opts)
			want := logstoretest.Make(1, 61, 1)
			for i := 0; i < len(want); i += 10 { // a batch never spans segments
				store(t, s, want[i:i+10])
			}
			if n := len(segmentPaths(t, dir)); n < 2 {
				t.Fatalf("%d segments; the test means a log of several", n)
			}
			closeT(t, s)
			torn := filepath.Join(dir, segName(61))
			if err := os.WriteFile(torn, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			s = openClean(t, dir, opts)
			wantLog(t, s, want)
			if _, err := os.Stat(torn); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the torn segment is still there: %v", err)
			}
			store(t, s, logstoretest.Make(61, 71, 2))
			closeT(t, s)
			s = openClean(t, dir, opts)
			wantLog(t, s, append(want, logstoretest.Make(61, 71, 2)...))
		})
	}
}

// A segment that is not the last was completely written before the next
// was started: damage to its header is damage to acknowledged entries, not
// a torn creation, and must not make Open drop or skip the segment.
func TestDamagedHeaderOfASealedSegmentIsErrCorrupt(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"FlippedMagic", func(t *testing.T, path string) { flipBit(t, path, 2, 1) }},
		{"FlippedBaseIndex", func(t *testing.T, path string) { flipBit(t, path, 15, 0) }},
		{"FlippedChecksum", func(t *testing.T, path string) { flipBit(t, path, 25, 4) }},
		{"Garbage", func(t *testing.T, path string) {
			overwrite(t, path, 0, bytes.Repeat([]byte{0x5a}, segHeaderLen))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, opts := t.TempDir(), Options{SegmentSize: smallSegments}
			segs := writeSegments(t, dir, opts)
			c.damage(t, segs[1])
			openWantCorrupt(t, dir, opts, "Open with a damaged segment header", segs[1])
		})
	}
}

// A crash after a compaction recorded its new first index but before it
// removed the segments below leaves them behind: Open removes them, and
// the log starts at the compaction point, not at the old segments.
func TestCompactedSegmentsLeftBehindAreRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: smallSegments}
	s := openT(t, dir, opts)
	want := logstoretest.Make(1, 201, 1)
	for i := 0; i < len(want); i += 20 {
		store(t, s, want[i:i+20])
	}
	segs := segmentPaths(t, dir)
	saved := map[string][]byte{}
	for _, p := range segs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		saved[p] = b
	}
	if err := s.DeleteBefore(150); err != nil {
		t.Fatal(err)
	}
	closeT(t, s)
	left := segmentPaths(t, dir)
	if len(left) >= len(segs) {
		t.Fatalf("DeleteBefore removed no segment (%d before, %d after)", len(segs), len(left))
	}
	// Put back what the compaction removed, as if it had crashed
	// before the removal.
	for _, p := range segs {
		if !slices.Contains(left, p) {
			if err := os.WriteFile(p, saved[p], 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	s = openClean(t, dir, opts)
	wantLog(t, s, want[149:])
	if _, err := s.Entries(149, 150, 0); !errors.Is(err, logstore.ErrCompacted) {
		t.Fatalf("Entries(149) below the compaction point: got %v, want ErrCompacted", err)
	}
	if got := segmentPaths(t, dir); !slices.Equal(got, left) {
		t.Fatalf("segments after Open: %v, want %v", got, left)
	}
}

// A snapshot past the whole log (a follower catching up) empties the
// store, and the leader then sends entries from the snapshot on, which
// may be anywhere, even below the old compaction point if the snapshot is
// older than what the follower had compacted. The new entries must be the
// log, now and after a reopen.
func TestDeleteBeforePastTheLastIndexLetsTheLogStartAnywhere(t *testing.T) {
	for _, c := range []struct {
		name  string
		start uint64
	}{
		{"BelowTheOldFirstIndex", 1},
		{"BelowTheCompactionPoint", 30},
		{"AtTheCompactionPoint", 80},
		{"AboveTheCompactionPoint", 500},
	} {
		for _, reopenFirst := range []bool{false, true} {
			name := c.name
			if reopenFirst {
				name += "/AfterAReopen"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				opts := Options{SegmentSize: smallSegments}
				s := openT(t, dir, opts)
				store(t, s, logstoretest.Make(1, 51, 1))
				if err := s.DeleteBefore(10); err != nil {
					t.Fatal(err)
				}
				if err := s.DeleteBefore(80); err != nil {
					t.Fatal(err)
				}
				wantLog(t, s, nil)
				if reopenFirst {
					closeT(t, s)
					s = openT(t, dir, opts)
					wantLog(t, s, nil)
				}
				want := logstoretest.Make(c.start, c.start+40, 3)
				store(t, s, want[:20])
				store(t, s, want[20:])
				wantLog(t, s, want)
				closeT(t, s)
				s = openClean(t, dir, opts)
				wantLog(t, s, want)
			})
		}
	}
}

// Two stores appending to one directory would interleave their frames:
// while one has it open, a second Open must fail, and succeed once the
// first is closed.
func TestSecondOpenOfTheSameDirectoryIsErrLocked(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	_, err := Open(dir, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	closeT(t, s)
	s = openClean(t, dir, Options{LockTimeout: 50 * time.Millisecond})
	wantLog(t, s, nil)
}

// A leader resends entries the follower has; a batch that repeats them
// and then differs must cut only from the first entry that differs, so
// that a crash between the cut and the append loses nothing the batch
// repeats (those may be committed). White-box: the entries kept are in
// the same segment file, at the same offsets, with the same bytes.
func TestReplacingBatchKeepsTheEntriesItRepeats(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: smallSegments}
	s := openClean(t, dir, opts)
	old := logstoretest.Make(1, 9, 1)
	store(t, s, old)
	path4, off4, _ := frameOf(t, s, 4)
	_, off6, _ := frameOf(t, s, 6)
	kept, err := os.ReadFile(path4)
	if err != nil {
		t.Fatal(err)
	}
	// Entries 6.. do not fit what is left of the segment, so they start a
	// new one: a cut from 4 would leave entry 4 in a different segment.
	batch := append(logstoretest.Make(4, 6, 1), bigEntries(6, 10, 2, smallSegments/4)...)
	store(t, s, batch)
	wantLog(t, s, append(old[:3:3], batch...))
	for idx := uint64(4); idx <= 5; idx++ {
		if path, _, _ := frameOf(t, s, idx); path != path4 {
			t.Fatalf("entry %d moved from %s to %s: it was cut and written again", idx, path4, path)
		}
	}
	if _, off, _ := frameOf(t, s, 4); off != off4 {
		t.Fatalf("entry 4 moved from offset %d to %d", off4, off)
	}
	now, err := os.ReadFile(path4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now[:off6], kept[:off6]) {
		t.Fatalf("the bytes of %s before entry 6 changed", path4)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
