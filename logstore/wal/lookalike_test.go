package wal

import (
	"encoding/binary"
	"testing"

	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/wire"
)

// A payload can hold bytes that read as the head of the next frame. After
// a damaged frame, Open checks such lookalikes for a written frame that
// follows, one checksum each; a payload full of them must not make Open
// take hours. Past a bounded amount of checking it gives up and reports
// the damage, rather than drop entries it could not rule out: here the
// damaged entry is the last one, which with the search run to its end
// would be taken for a torn append and cut off.
func TestPayloadFullOfFrameLookalikesCannotStallOpen(t *testing.T) {
	defer func(old int) { searchBudget = old }(searchBudget)
	searchBudget = 64 << 10

	dir := t.TempDir()
	s := openT(t, dir, Options{})
	store(t, s, logstoretest.Make(1, 5, 1))
	// Entry 5's payload repeats what reads as a frame for index 6: a
	// plausible size, any checksum, then index 6.
	look := make([]byte, frameHeadLen+frameFixedLen)
	binary.BigEndian.PutUint32(look, 4096)
	binary.BigEndian.PutUint64(look[frameHeadLen:], 6)
	data := make([]byte, 0, 256<<10)
	for len(data)+len(look) <= cap(data) {
		data = append(data, look...)
	}
	store(t, s, []wire.Entry{{Index: 5, Term: 1, Type: wire.EntryNormal, Data: data}})
	path, off, _ := frameOf(t, s, 5)
	closeT(t, s)
	flipBit(t, path, off+4, 0) // entry 5's checksum: it is damaged
	s, err := Open(dir, Options{})
	if err == nil {
		last, _ := s.LastIndex()
		s.Close()
		t.Fatalf("Open succeeded with last index %d; want ErrCorrupt once the search gave up", last)
	}
	wantCorrupt(t, err, "Open", "entry 5")
}
