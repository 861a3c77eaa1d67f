package boltdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"github.com/mandate-raft/mandate/logstore"
)

// Bolt's on-disk meta page, as far as the preflight needs it: a 16-byte
// page header, then magic, version, page size, flags, root bucket (16
// bytes), freelist page, high-water page id, txid and an FNV-64a checksum
// of everything before it.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	metaOffset     = 16
	metaSumLen     = 56
	metaLen        = 64
	minBoltPage    = 512
	maxBoltPage    = 1 << 20
	defaultOSPage  = 4096
	metaPgidOffset = 40
	metaTxidOffset = 48
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

// preflight checks an existing bolt file before bolt maps it: bolt trusts
// its meta page and would fault (an unrecoverable SIGBUS) reading pages
// past the end of a truncated file. It returns an error wrapping
// logstore.ErrCorrupt for a file that is not a bolt database or is shorter
// than its own meta page says; a missing or empty file passes.
func preflight(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logstore/boltdb: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("logstore/boltdb: %w", err)
	}
	size := info.Size()
	if size == 0 {
		return nil
	}
	m0, err0 := readMeta(f, 0)
	pageSize := int64(defaultOSPage)
	if err0 == nil {
		pageSize = int64(m0.pageSize)
	}
	m1, err1 := readMeta(f, pageSize)
	var best boltMeta
	switch {
	case err0 != nil && err1 != nil:
		return fmt.Errorf("%w: %s is not a bolt database (%v)", logstore.ErrCorrupt, path, err0)
	case err1 != nil || (err0 == nil && m0.txid >= m1.txid):
		best = m0
	default:
		best = m1
	}
	if need := int64(best.pgid) * int64(best.pageSize); size < need {
		return fmt.Errorf("%w: %s is truncated: %d bytes, its meta page needs %d",
			logstore.ErrCorrupt, path, size, need)
	}
	return nil
}

func readMeta(r io.ReaderAt, off int64) (boltMeta, error) {
	var buf [metaOffset + metaLen]byte
	if _, err := r.ReadAt(buf[:], off); err != nil {
		return boltMeta{}, fmt.Errorf("meta page at %d: %w", off, err)
	}
	m := buf[metaOffset:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, fmt.Errorf("meta page at %d: bad magic", off)
	}
	if v := le.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("meta page at %d: version %d", off, v)
	}
	h := fnv.New64a()
	h.Write(m[:metaSumLen])
	if sum := le.Uint64(m[metaSumLen:]); sum != 0 && sum != h.Sum64() {
		return boltMeta{}, fmt.Errorf("meta page at %d: checksum mismatch", off)
	}
	ps := le.Uint32(m[8:])
	if ps < minBoltPage || ps > maxBoltPage || ps&(ps-1) != 0 {
		return boltMeta{}, fmt.Errorf("meta page at %d: page size %d", off, ps)
	}
	return boltMeta{pageSize: ps, pgid: le.Uint64(m[metaPgidOffset:]), txid: le.Uint64(m[metaTxidOffset:])}, nil
}
