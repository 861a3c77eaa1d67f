package wal

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// fuzzShape is a small valid store, kept as its files' bytes, and what was
// written to it.
type fuzzShape struct {
	opts  Options
	names []string // the files damage may hit, in order
	tail  string   // the last segment, "" if none
	files map[string][]byte
	// all holds every entry written, at its final value, compacted or
	// not; first and last are the log's bounds (0, 0: empty).
	all         map[uint64]wire.Entry
	first, last uint64
	// hs is the hard state written last; prev the one before it, which
	// a torn write of the last may leave (see the meta file).
	hs, prev wire.HardState
}

// fuzzShapes builds the stores FuzzOpen damages: several small segments
// with a cut and a compaction behind them; one segment; and a store
// whose log was compacted away, which has a meta file and no segment.
func fuzzShapes(f *testing.F) []*fuzzShape {
	f.Helper()
	build := func(opts Options, write func(s *Store, sh *fuzzShape) error) *fuzzShape {
		dir := f.TempDir()
		s, err := Open(dir, opts)
		if err != nil {
			f.Fatal(err)
		}
		sh := &fuzzShape{opts: opts, files: map[string][]byte{}, all: map[uint64]wire.Entry{}}
		if err := write(s, sh); err != nil {
			f.Fatal(err)
		}
		sh.first, _ = s.FirstIndex()
		sh.last, _ = s.LastIndex()
		if err := s.Close(); err != nil {
			f.Fatal(err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() == lockFileName {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			sh.names = append(sh.names, e.Name())
			sh.files[e.Name()] = b
			if filepath.Ext(e.Name()) == segSuffix {
				sh.tail = e.Name() // ReadDir sorts by name, segments by index
			}
		}
		return sh
	}
	put := func(s *Store, sh *fuzzShape, entries []wire.Entry) error {
		for _, e := range entries {
			sh.all[e.Index] = e
		}
		return s.StoreEntries(entries)
	}
	hardStates := func(s *Store, sh *fuzzShape) error {
		sh.prev = wire.HardState{Term: 3, Vote: "n2", Commit: 5}
		sh.hs = wire.HardState{Term: 4, Vote: "n3", Commit: 9}
		if err := s.SetHardState(sh.prev); err != nil {
			return err
		}
		return s.SetHardState(sh.hs)
	}
	// Payloads of different sizes, so frames straddle sectors and
	// segment ends in different ways.
	entries := func(lo, hi, term uint64) []wire.Entry {
		out := logstoretest.Make(lo, hi, term)
		for i := range out {
			out[i].Data = append(out[i].Data, make([]byte, int(out[i].Index*37%300))...)
			out[i].Data[len(out[i].Data)-1] = byte(out[i].Index)
		}
		return out
	}
	return []*fuzzShape{
		build(Options{SegmentSize: 1 << 10, UnsafeNoSync: true}, func(s *Store, sh *fuzzShape) error {
			for i := uint64(1); i <= 40; i += 4 {
				if err := put(s, sh, entries(i, i+4, 1)); err != nil {
					return err
				}
			}
			if err := put(s, sh, entries(30, 36, 2)); err != nil {
				return err
			}
			if err := s.DeleteBefore(8); err != nil {
				return err
			}
			return hardStates(s, sh)
		}),
		build(Options{SegmentSize: 8 << 10, UnsafeNoSync: true}, func(s *Store, sh *fuzzShape) error {
			for i := uint64(1); i <= 20; i += 5 {
				if err := put(s, sh, entries(i, i+5, 1)); err != nil {
					return err
				}
			}
			if err := put(s, sh, entries(18, 22, 2)); err != nil {
				return err
			}
			return hardStates(s, sh)
		}),
		build(Options{SegmentSize: 1 << 10, UnsafeNoSync: true}, func(s *Store, sh *fuzzShape) error {
			if err := put(s, sh, entries(1, 11, 1)); err != nil {
				return err
			}
			if err := s.DeleteBefore(20); err != nil {
				return err
			}
			return hardStates(s, sh)
		}),
	}
}

// Damage kinds, one per fuzzed operation of 8 bytes: kind, file, offset
// (4 bytes), argument (2 bytes).
const (
	damageFlip     = iota // flip bit arg%8 of the byte at offset
	damageTruncate        // cut the file at offset
	damageZero            // zero arg%2048+1 bytes from offset
	damageFill            // write arg%64+1 bytes of value arg>>8 from offset
	damageKinds
)

// maxDamage bounds the operations of one input: a few are enough to
// combine kinds of damage, and each costs file writes.
const maxDamage = 6

// damage applies the operations ops describes to the files in dir and
// reports whether one of them hit the last segment.
func (sh *fuzzShape) damage(t *testing.T, dir string, ops []byte) (tailHit bool) {
	ops = ops[:min(len(ops), 8*maxDamage)]
	for ; len(ops) >= 8; ops = ops[8:] {
		name := sh.names[int(ops[1])%len(sh.names)]
		tailHit = tailHit || name == sh.tail
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		off := int(binary.BigEndian.Uint32(ops[2:]) % uint32(len(b)+1))
		arg := int(binary.BigEndian.Uint16(ops[6:]))
		switch ops[0] % damageKinds {
		case damageFlip:
			if off < len(b) {
				b[off] ^= 1 << (arg % 8)
			}
		case damageTruncate:
			b = b[:off]
		case damageZero:
			clear(b[off:min(len(b), off+arg%2048+1)])
		case damageFill:
			for i := off; i < min(len(b), off+arg%64+1); i++ {
				b[i] = byte(arg >> 8)
			}
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return tailHit
}

// check fails the test unless the store in dir serves what was written,
// as far as it serves anything: a prefix of the log, every entry intact,
// read without error, all of it if the last segment is intact (only there
// can an append be torn), and the hard state written (or the one before,
// as a torn meta write leaves); and unless the log then goes on and
// survives a reopen.
func (sh *fuzzShape) check(t *testing.T, dir string, s *Store, tailHit bool) {
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if !tailHit && last != sh.last {
		t.Fatalf("bounds [%d, %d], written [%d, %d], and the last segment is intact: entries were lost", first, last, sh.first, sh.last)
	}
	if last != 0 {
		if first != sh.first || last > sh.last {
			t.Fatalf("bounds [%d, %d], written [%d, %d]: not a prefix", first, last, sh.first, sh.last)
		}
		got, err := s.Entries(first, last+1, 0)
		if err != nil {
			t.Fatalf("Entries(%d, %d) of a store Open accepted: %v", first, last+1, err)
		}
		if uint64(len(got)) != last-first+1 {
			t.Fatalf("Entries(%d, %d): %d entries", first, last+1, len(got))
		}
		for _, e := range got {
			if !logstoretest.EntryEqual(e, sh.all[e.Index]) {
				t.Fatalf("entry %d: got %+v, written %+v", e.Index, e, sh.all[e.Index])
			}
		}
	}
	hs, ok, err := s.HardState()
	if err != nil || !ok || (hs != sh.hs && hs != sh.prev) {
		t.Fatalf("HardState: %+v, %v, %v; written %+v (before it %+v)", hs, ok, err, sh.hs, sh.prev)
	}
	next := last + 1
	if last == 0 {
		next = max(sh.first, 1)
	}
	more := logstoretest.Make(next, next+3, 9)
	if err := s.StoreEntries(more); err != nil {
		t.Fatalf("StoreEntries [%d, %d] after Open: %v", next, next+2, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, sh.opts)
	if err != nil {
		t.Fatalf("reopen after appending to the repaired log: %v", err)
	}
	defer s.Close()
	if got, err := s.Entries(next, next+3, 0); err != nil || len(got) != 3 || !logstoretest.EntryEqual(got[2], more[2]) {
		t.Fatalf("the entries appended after Open, read after a reopen: %+v, %v", got, err)
	}
}

// FuzzOpen damages a valid store's segment and meta files (flipped bits,
// files cut short, zeroed or overwritten ranges) and reopens it. Open must
// never panic; it either refuses with an error or serves a prefix of what
// was written, each entry intact, and goes on from there: whatever damage
// it lets through, it must not serve as data or leave behind for a later
// read to stumble on.
func FuzzOpen(f *testing.F) {
	shapes := fuzzShapes(f)
	op := func(kind, file byte, off uint32, arg uint16) []byte {
		b := []byte{kind, file}
		b = binary.BigEndian.AppendUint32(b, off)
		return binary.BigEndian.AppendUint16(b, arg)
	}
	for i := range shapes {
		f.Add(uint8(i), []byte(nil))
		f.Add(uint8(i), op(damageFlip, 0, 300, 3))
		f.Add(uint8(i), op(damageFlip, 1, 5000, 0))
		f.Add(uint8(i), op(damageZero, 0, 512, 511))
		if len(shapes[i].names) > 1 { // segments to cut short
			f.Add(uint8(i), op(damageTruncate, 1, 700, 0))
			f.Add(uint8(i), slices.Concat(op(damageFill, 2, 40, 0xff10), op(damageTruncate, 3, 900, 0)))
		}
	}
	f.Fuzz(func(t *testing.T, shape uint8, ops []byte) {
		sh := shapes[int(shape)%len(shapes)]
		dir := t.TempDir()
		for _, name := range sh.names {
			if err := os.WriteFile(filepath.Join(dir, name), sh.files[name], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		tailHit := sh.damage(t, dir, ops)
		s, err := Open(dir, sh.opts)
		if err != nil {
			return // refusing damaged files is always allowed
		}
		defer func() { _ = s.Close() }() // check closes it unless it fails first
		sh.check(t, dir, s, tailHit)
	})
}
