package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/internal/entrycodec"
	"github.com/mandate-raft/mandate/wire"
)

// The meta file holds what is not an entry: the hard state and the index
// below which the log was compacted. It has two slots, written in turn,
// each with a sequence number and a checksum, so that a write torn by a
// crash damages only the slot being written and the other still holds the
// previous state: one write and one fsync replace it.
//
//	slot     4096 bytes: magic "MNDTMETA", sequence (uint64), first index
//	         (uint64), hard-state length (uint32), the hard state
//	         (entrycodec.EncodeHardState), zeros, and a CRC-32C of all the
//	         bytes before it in the last 4.
const (
	metaFileName = "meta"
	metaMagic    = "MNDTMETA"
	metaSlotLen  = 4096
	metaFixedLen = 28
)

// meta is the content of one slot.
type meta struct {
	seq   uint64
	first uint64 // entries below it are compacted away; 0: none are
	hs    wire.HardState
	hasHS bool
}

// metaFile is the open meta file and the state it holds.
type metaFile struct {
	f    *os.File
	path string
	cur  meta
	sync bool
}

// openMeta opens the meta file in dir, creating it when create is set
// and there is none: its first slot is written to a temporary file, made
// durable and renamed into place, so a meta file exists only once a slot
// was completely written. fresh reports that it was created now; a meta
// file without an intact slot is logstore.ErrCorrupt.
func openMeta(dir string, create, sync bool) (m *metaFile, fresh bool, err error) {
	path := filepath.Join(dir, metaFileName)
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("logstore/wal: remove %s: %w", tmp, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if !create {
			return nil, false, fmt.Errorf("%w: %s: segment files without a meta file", logstore.ErrCorrupt, dir)
		}
		return createMeta(dir, path, tmp, sync)
	}
	if err != nil {
		return nil, false, fmt.Errorf("logstore/wal: open meta file: %w", err)
	}
	m = &metaFile{f: f, path: path, sync: sync}
	var best *meta
	buf := make([]byte, metaSlotLen)
	for slot := range int64(2) {
		n, _ := f.ReadAt(buf, slot*metaSlotLen)
		got, err := decodeMetaSlot(buf[:n])
		if err != nil {
			continue
		}
		if best == nil || got.seq > best.seq {
			best = &got
		}
	}
	if best == nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("%w: %s: neither slot is intact (the hard state is lost)", logstore.ErrCorrupt, path)
	}
	m.cur = *best
	return m, false, nil
}

// createMeta writes the first slot of an empty state to tmp, makes it
// durable and renames it to path.
func createMeta(dir, path, tmp string, sync bool) (*metaFile, bool, error) {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("logstore/wal: create meta file: %w", err)
	}
	m := &metaFile{f: f, path: path, sync: sync}
	fail := func(err error) (*metaFile, bool, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, false, err
	}
	if err := m.write(meta{}); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("logstore/wal: create meta file: %w", err))
	}
	if sync {
		if err := syncDir(dir); err != nil {
			return fail(err)
		}
	}
	return m, true, nil
}

func decodeMetaSlot(b []byte) (meta, error) {
	if len(b) != metaSlotLen || string(b[:8]) != metaMagic {
		return meta{}, errors.New("not a meta slot")
	}
	if crc32.Checksum(b[:metaSlotLen-4], castagnoli) != binary.BigEndian.Uint32(b[metaSlotLen-4:]) {
		return meta{}, errors.New("checksum mismatch")
	}
	m := meta{seq: binary.BigEndian.Uint64(b[8:]), first: binary.BigEndian.Uint64(b[16:])}
	n := int(binary.BigEndian.Uint32(b[24:]))
	if n > metaSlotLen-4-metaFixedLen {
		return meta{}, errors.New("hard state length out of range")
	}
	if n > 0 {
		hs, err := entrycodec.DecodeHardState(b[metaFixedLen : metaFixedLen+n])
		if err != nil {
			return meta{}, err
		}
		m.hs, m.hasHS = hs, true
	}
	return m, nil
}

// write makes next the meta file's state with one write and one fsync,
// into the slot the current state is not in.
func (m *metaFile) write(next meta) error {
	next.seq = m.cur.seq + 1
	b := make([]byte, metaSlotLen)
	copy(b, metaMagic)
	binary.BigEndian.PutUint64(b[8:], next.seq)
	binary.BigEndian.PutUint64(b[16:], next.first)
	if next.hasHS {
		hs, err := entrycodec.EncodeHardState(next.hs)
		if err != nil {
			return fmt.Errorf("logstore/wal: %w", err)
		}
		if len(hs) > metaSlotLen-4-metaFixedLen {
			return fmt.Errorf("logstore/wal: hard state of %d bytes does not fit the meta file (the node ID is too long)", len(hs))
		}
		binary.BigEndian.PutUint32(b[24:], uint32(len(hs)))
		copy(b[metaFixedLen:], hs)
	}
	binary.BigEndian.PutUint32(b[metaSlotLen-4:], crc32.Checksum(b[:metaSlotLen-4], castagnoli))
	if _, err := m.f.WriteAt(b, int64(next.seq%2)*metaSlotLen); err != nil {
		return fmt.Errorf("logstore/wal: write %s: %w", m.path, err)
	}
	if m.sync {
		if err := fdatasync(m.f); err != nil {
			return fmt.Errorf("logstore/wal: sync %s: %w", m.path, err)
		}
	}
	m.cur = next
	return nil
}

func (m *metaFile) close() error { return m.f.Close() }
