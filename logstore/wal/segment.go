package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mandate-raft/mandate/internal/durable"
	"github.com/mandate-raft/mandate/logstore"
)

// A segment file holds the frames of consecutive entries, from the index
// its header names on. Its layout:
//
//	header   32 bytes: magic "MNDTWAL1", base index (uint64), 8 zero
//	         bytes, CRC-32C of the 24 bytes before it, 4 zero bytes
//	frames   one per entry, in index order:
//	           size     uint32: length of what follows the crc
//	           crc      uint32: CRC-32C of size and body, seeded with the
//	                    previous frame's crc (the header's for the first)
//	           body     index uint64, term uint64, then the entry without
//	                    its Index and Term (logstore/internal/entrycodec)
//	then zeros up to the space reserved when the file was created.
//
// All integers are big-endian. Chaining each crc to the one before means a
// frame left over from a log that was later cut and written again never
// passes for part of the new log. Where the frames end, the next 8 bytes
// are zero: the file is cut there whenever the log is.
const (
	segMagic      = "MNDTWAL1"
	segHeaderLen  = 32
	frameHeadLen  = 8
	frameFixedLen = 16 // index and term, at the start of every body
	segSuffix     = ".wal"
)

// maxFrameBody bounds a frame so that a damaged size field is caught
// before it allocates; StoreEntries refuses an entry whose frame would
// pass it. A variable so that tests can lower it.
var maxFrameBody uint32 = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameLoc is where a frame lies in its segment and the crc it is chained
// to.
type frameLoc struct {
	off  int64
	size uint32 // of the body
	prev uint32
}

// segment is one open segment file. Its frames hold indexes [base,
// base+len(frames)).
type segment struct {
	f       *os.File
	path    string
	base    uint64
	frames  []frameLoc
	end     int64  // offset just after the last frame
	lastCRC uint32 // crc of the last frame, or of the header
}

func segName(base uint64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

// next returns the index the segment's next frame would hold.
func (g *segment) next() uint64 { return g.base + uint64(len(g.frames)) }

// lastIndex returns the index of its last frame, or base-1 when it has
// none.
func (g *segment) lastIndex() uint64 { return g.next() - 1 }

func encodeHeader(base uint64) []byte {
	h := make([]byte, segHeaderLen)
	copy(h, segMagic)
	binary.BigEndian.PutUint64(h[8:], base)
	binary.BigEndian.PutUint32(h[24:], crc32.Checksum(h[:24], castagnoli))
	return h
}

// frameCRC returns the crc of a frame with body (whose size field is
// len(body)), chained to prev.
func frameCRC(prev uint32, body []byte) uint32 {
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(body)))
	return crc32.Update(crc32.Update(prev, castagnoli, size[:]), castagnoli, body)
}

// appendFrame appends to buf the frame of body chained to prev and
// returns its crc.
func appendFrame(buf []byte, prev uint32, body []byte) ([]byte, uint32) {
	crc := frameCRC(prev, body)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(body)))
	buf = binary.BigEndian.AppendUint32(buf, crc)
	return append(buf, body...), crc
}

// createSegment creates the segment file for base in dir, reserves size
// bytes for it and makes the file and its name durable.
func createSegment(dir string, base uint64, size int64, sync bool) (*segment, error) {
	path := filepath.Join(dir, segName(base))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("logstore/wal: create segment: %w", err)
	}
	fail := func(err error) (*segment, error) {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("logstore/wal: create segment %s: %w", path, err)
	}
	hdr := encodeHeader(base)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return fail(err)
	}
	if err := reserve(f, size); err != nil {
		return fail(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if err := syncDir(dir); err != nil {
			return fail(err)
		}
	}
	return &segment{f: f, path: path, base: base, end: segHeaderLen,
		lastCRC: binary.BigEndian.Uint32(hdr[24:])}, nil
}

// listSegments returns the bases of the segment files in dir, in order.
func listSegments(dir string) ([]uint64, error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("logstore/wal: list %s: %w", dir, err)
	}
	var bases []uint64
	for _, e := range names {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		base, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || name != segName(base) {
			return nil, fmt.Errorf("%w: %s: unexpected file %s among the segments", logstore.ErrCorrupt, dir, name)
		}
		if base == 0 {
			// No entry has index 0, so the store never starts a segment
			// there; and base-1, the last index of such a segment while it
			// has no frame, would wrap.
			return nil, fmt.Errorf("%w: %s: a segment for index 0", logstore.ErrCorrupt, filepath.Join(dir, name))
		}
		bases = append(bases, base)
	}
	return bases, nil // ReadDir sorts by name, and names sort as bases
}

// errTornHeader marks a segment whose header was never completely
// written: a crash while the segment was being created.
var errTornHeader = errors.New("segment header incomplete")

// openSegment opens and scans the segment file for base. A frame that
// fails its check ends the scan: in the last segment (tail true) it is
// taken for a torn append, and the file is cut there, if no written frame
// follows it (see followedByFrame); anything else is damage, reported as
// logstore.ErrCorrupt naming the index.
func openSegment(dir string, base uint64, tail bool, reserveSize int64, sync bool) (*segment, error) {
	path := filepath.Join(dir, segName(base))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("logstore/wal: open segment: %w", err)
	}
	g, err := scanSegment(f, path, base, tail)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if tail {
		// Cut whatever lies after the last good frame (a torn append, or
		// nothing), so the next append starts on zeros.
		if err := g.cutAt(g.end, reserveSize, sync); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return g, nil
}

func scanSegment(f *os.File, path string, base uint64, tail bool) (*segment, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("logstore/wal: %s: %w", path, err)
	}
	size := st.Size()
	hdr := make([]byte, segHeaderLen)
	if n, _ := f.ReadAt(hdr, 0); n < segHeaderLen || string(hdr[:8]) != segMagic ||
		binary.BigEndian.Uint32(hdr[24:]) != crc32.Checksum(hdr[:24], castagnoli) {
		// The header is made durable before any frame is written, so only
		// the last segment, with no frame after its header, can hold a
		// header a crash interrupted; and such a segment holds nothing to
		// lose.
		var first [frameHeadLen]byte
		k, _ := f.ReadAt(first[:], segHeaderLen)
		if tail && bytes.Equal(first[:k], make([]byte, k)) {
			return nil, fmt.Errorf("%w: %s", errTornHeader, path)
		}
		return nil, fmt.Errorf("%w: %s: damaged segment header", logstore.ErrCorrupt, path)
	}
	if got := binary.BigEndian.Uint64(hdr[8:]); got != base {
		return nil, fmt.Errorf("%w: %s: header says base index %d", logstore.ErrCorrupt, path, got)
	}
	g := &segment{f: f, path: path, base: base, end: segHeaderLen, lastCRC: binary.BigEndian.Uint32(hdr[24:])}
	r := io.NewSectionReader(f, 0, size)
	var head [frameHeadLen + frameFixedLen]byte
	var body []byte
	for {
		off := g.end
		n, _ := r.ReadAt(head[:], off)
		if n < frameHeadLen || binary.BigEndian.Uint32(head[:4]) == 0 {
			// The end of the frames, unless written frames follow: then
			// this head was damaged (a sector that reads as zeros).
			if tail {
				followed, err := followedByFrame(f, off, size, g.next(), binary.BigEndian.Uint32(head[4:8]))
				if err != nil {
					return nil, fmt.Errorf("logstore/wal: %s: %w", path, err)
				}
				if followed {
					return nil, fmt.Errorf("%w: %s: entry %d at offset %d: zeroed frame head before written frames", logstore.ErrCorrupt, path, g.next(), off)
				}
			}
			return g, nil
		}
		bodyLen := binary.BigEndian.Uint32(head[:4])
		want := binary.BigEndian.Uint32(head[4:8])
		bad := ""
		switch {
		case bodyLen < frameFixedLen || bodyLen > maxFrameBody || off+frameHeadLen+int64(bodyLen) > size:
			bad = fmt.Sprintf("frame size %d", bodyLen)
		default:
			body = growTo(body, int(bodyLen))
			if _, err := f.ReadAt(body, off+frameHeadLen); err != nil {
				return nil, fmt.Errorf("logstore/wal: %s: read frame at %d: %w", path, off, err)
			}
			if frameCRC(g.lastCRC, body) != want {
				bad = "checksum mismatch"
			} else if idx := binary.BigEndian.Uint64(body); idx != g.next() {
				// A frame that passes its chained checksum with the wrong
				// index was written wrong, not torn.
				return nil, fmt.Errorf("%w: %s: entry %d at offset %d: frame holds index %d", logstore.ErrCorrupt, path, g.next(), off, idx)
			}
		}
		if bad == "" {
			g.frames = append(g.frames, frameLoc{off: off, size: bodyLen, prev: g.lastCRC})
			g.lastCRC = want
			g.end = off + frameHeadLen + int64(bodyLen)
			continue
		}
		if tail {
			followed, err := followedByFrame(f, off, size, g.next(), want)
			if err != nil {
				return nil, fmt.Errorf("logstore/wal: %s: %w", path, err)
			}
			if !followed {
				return g, nil // a torn append: cut off by the caller
			}
		}
		return nil, fmt.Errorf("%w: %s: entry %d at offset %d: %s", logstore.ErrCorrupt, path, g.next(), off, bad)
	}
}

// followedByFrame reports whether a written frame follows the damaged
// one at off, which should hold index: a frame of index+1 chained to the
// damaged frame's crc (prev), or, should that crc be the damaged part, a
// frame of index+1 followed by one of index+2 chained to it. The damaged
// frame's size field cannot be trusted, so every offset after it is
// tried.
//
// This tells a torn append from damage. An append is the last write to
// the file, so nothing written follows the frame it tore; damage to an
// acknowledged frame has the frames written after it behind it (unless it
// hit the very last one, which no reader can tell from a torn write).
func followedByFrame(f *os.File, off, size int64, index uint64, prev uint32) (bool, error) {
	end, err := dataEnd(f, off, size)
	if err != nil || end <= off+frameHeadLen {
		return false, err
	}
	rest := make([]byte, end-off)
	if _, err := f.ReadAt(rest, off); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read after the damaged frame at %d: %w", off, err)
	}
	// Lookalikes (a payload holding what reads as the next frame's head)
	// cost a checksum each; past a budget the search gives up and answers
	// yes, the side that reports damage rather than drops entries, so that
	// crafted payloads cannot make Open take hours.
	budget := searchBudget
	crcOf := func(prev uint32, body []byte) uint32 {
		budget -= len(body)
		return frameCRC(prev, body)
	}
	valid := func(p int, index uint64, prev uint32, check bool) (int, uint32, bool) {
		if p+frameHeadLen+frameFixedLen > len(rest) || binary.BigEndian.Uint64(rest[p+frameHeadLen:]) != index {
			return 0, 0, false
		}
		n := int(binary.BigEndian.Uint32(rest[p:]))
		if n < frameFixedLen || n > len(rest)-p-frameHeadLen {
			return 0, 0, false
		}
		crc := binary.BigEndian.Uint32(rest[p+4:])
		if check && crcOf(prev, rest[p+frameHeadLen:p+frameHeadLen+n]) != crc {
			return 0, 0, false
		}
		return p + frameHeadLen + n, crc, true
	}
	for p := frameHeadLen; p+frameHeadLen+frameFixedLen <= len(rest); p++ {
		next, crc, ok := valid(p, index+1, prev, false)
		if !ok {
			continue
		}
		if crcOf(prev, rest[p+frameHeadLen:next]) == crc {
			return true, nil
		}
		if _, _, ok := valid(next, index+2, crc, true); ok {
			return true, nil
		}
		if budget < 0 {
			return true, nil
		}
	}
	return false, nil
}

// searchBudget bounds the bytes followedByFrame checksums: a quarter of a
// second's work or so. A variable so that tests can lower it.
var searchBudget = 256 << 20

// dataEnd returns the offset just after the last byte at or after from
// that is not zero (from if there is none), up to the first hole: the end
// of what was written. The reserved space after it reads as zeros, and the
// file system reports it as a hole where it can (holeAt), which spares
// reading it; a block an interrupted append never got to the disk is a
// hole too, so frames after it count as torn, as they are.
func dataEnd(f *os.File, from, size int64) (int64, error) {
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for end := holeAt(f, from, size); end > from; {
		n := min(int64(len(buf)), end-from)
		b := buf[:n]
		if _, err := f.ReadAt(b, end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read at %d: %w", end-n, err)
		}
		if !bytes.Equal(b, zero[:n]) {
			k := len(b)
			for b[k-1] == 0 {
				k--
			}
			return end - n + int64(k), nil
		}
		end -= n
	}
	return from, nil
}

func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// readBody reads and checks the body of the frame of index, which the
// segment holds.
func (g *segment) readBody(index uint64, buf []byte) ([]byte, error) {
	loc := g.frames[index-g.base]
	buf = growTo(buf, frameHeadLen+int(loc.size))
	if _, err := g.f.ReadAt(buf, loc.off); err != nil {
		return nil, fmt.Errorf("logstore/wal: %s: read entry %d: %w", g.path, index, err)
	}
	body := buf[frameHeadLen:]
	if binary.BigEndian.Uint32(buf[:4]) != loc.size || frameCRC(loc.prev, body) != binary.BigEndian.Uint32(buf[4:8]) {
		return nil, fmt.Errorf("%w: %s: entry %d: checksum mismatch", logstore.ErrCorrupt, g.path, index)
	}
	if got := binary.BigEndian.Uint64(body); got != index {
		return nil, fmt.Errorf("%w: %s: entry %d: frame holds index %d", logstore.ErrCorrupt, g.path, index, got)
	}
	return body, nil
}

// cutAt removes everything from off on (off is a frame boundary or the
// end of the frames), reserves reserveSize bytes again, and makes the cut
// durable: the removed frames then read as zeros.
func (g *segment) cutAt(off, reserveSize int64, sync bool) error {
	if err := g.f.Truncate(off); err != nil {
		return fmt.Errorf("logstore/wal: %s: cut at %d: %w", g.path, off, err)
	}
	if err := reserve(g.f, reserveSize); err != nil {
		return fmt.Errorf("logstore/wal: %s: %w", g.path, err)
	}
	if sync {
		if err := g.f.Sync(); err != nil {
			return fmt.Errorf("logstore/wal: %s: sync after cut: %w", g.path, err)
		}
	}
	n := 0
	for n < len(g.frames) && g.frames[n].off < off {
		n++
	}
	if n < len(g.frames) {
		g.lastCRC = g.frames[n].prev
		g.frames = g.frames[:n]
	}
	g.end = off
	return nil
}

// syncDir makes the entries of dir durable: the files created, renamed
// and removed in it. A variable so that tests can see when it runs.
var syncDir = syncDirOS

func syncDirOS(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("logstore/wal: %w", err)
	}
	return nil
}
