package boltdb

import (
	"encoding/binary"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// The bolt file keeps raft-boltdb's layout, so a file written here opens
// with raft-boltdb and one written by raft-boltdb opens here: bucket
// "logs" maps an 8-byte big-endian index to a msgpack raft.Log, bucket
// "conf" holds the stable-store values.
var (
	bucketLogs = []byte("logs")
	bucketConf = []byte("conf")
)

// boltFile is the bolt database under a Store, with the operations
// raft-boltdb's BoltStore offers. Writes are done here instead of through
// BoltStore because BoltStore.StoreLogs builds a fresh msgpack handle for
// every record, which cost more CPU than the rest of an append together;
// records are encoded here by hand into one buffer per transaction.
type boltFile struct {
	db *bbolt.DB
	// buf holds the keys and values of the write in progress: bolt keeps
	// references to them until the transaction ends. Writers are serialized
	// by the Store.
	buf []byte
}

// openBolt opens (creating if needed) the bolt file at path with the
// buckets the layout needs.
func openBolt(path string, opts *bbolt.Options, noSync bool) (*boltFile, error) {
	db, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, err
	}
	db.NoSync = noSync
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketLogs); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketConf)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &boltFile{db: db}, nil
}

// Close closes the database.
func (b *boltFile) Close() error { return b.db.Close() }

// FirstIndex returns the lowest key in the logs bucket, or 0 if empty.
func (b *boltFile) FirstIndex() (uint64, error) {
	var idx uint64
	err := b.db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().First(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// LastIndex returns the highest key in the logs bucket, or 0 if empty.
func (b *boltFile) LastIndex() (uint64, error) {
	var idx uint64
	err := b.db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().Last(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// logHandle decodes records the way raft-boltdb does (a default msgpack
// handle), so files written by raft-boltdb itself still read. One handle
// for all decoders keeps its type information cached.
var logHandle = &codec.MsgpackHandle{}

var logDecoders = sync.Pool{New: func() any { return codec.NewDecoderBytes(nil, logHandle) }}

// GetLog reads the record at idx into l; raft.ErrLogNotFound if none.
func (b *boltFile) GetLog(idx uint64, l *raft.Log) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], idx)
	return b.db.View(func(tx *bbolt.Tx) error {
		val := tx.Bucket(bucketLogs).Get(key[:])
		if val == nil {
			return raft.ErrLogNotFound
		}
		dec := logDecoders.Get().(*codec.Decoder)
		dec.ResetBytes(val)
		err := dec.Decode(l)
		dec.ResetBytes(nil)
		logDecoders.Put(dec)
		if err == nil && len(l.Data) > 0 {
			// The decoder may alias val, which is only valid inside the
			// transaction.
			l.Data = append([]byte(nil), l.Data...)
		}
		return err
	})
}

// StoreLogs writes logs in one transaction (one commit: with sync on,
// bolt's two fdatasyncs).
func (b *boltFile) StoreLogs(logs []*raft.Log) error {
	size := 0
	for _, l := range logs {
		size += 8 + recordOverhead + len(l.Data)
	}
	if cap(b.buf) < size {
		b.buf = make([]byte, 0, size)
	}
	// buf was sized for the whole batch; were it to grow anyway, the
	// slices bolt already holds keep the old array alive and unchanged.
	buf := b.buf[:0]
	defer func() {
		if cap(buf) > 4<<20 {
			buf = nil // do not keep one huge batch's buffer forever
		}
		b.buf = buf[:0]
	}()
	return b.db.Update(func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketLogs)
		// Appends come in index order; bolt then fills pages fully
		// instead of splitting them in half.
		bucket.FillPercent = 1.0
		for _, l := range logs {
			start := len(buf)
			buf = binary.BigEndian.AppendUint64(buf, l.Index)
			buf = appendLogRecord(buf, l)
			if err := bucket.Put(buf[start:start+8:start+8], buf[start+8:len(buf):len(buf)]); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordOverhead bounds the bytes appendLogRecord adds to a record's Data.
const recordOverhead = 1 + 6 + 9 + 5 + 9 + 5 + 2 + 5 + 5

// appendLogRecord appends l as a msgpack map of its Index, Term, Type and
// Data, which raft-boltdb's decoder reads as a raft.Log (the fields it
// does not find stay zero).
func appendLogRecord(buf []byte, l *raft.Log) []byte {
	buf = append(buf, 0x84) // fixmap, 4 pairs
	buf = append(buf, 0xa5, 'I', 'n', 'd', 'e', 'x', 0xcf)
	buf = binary.BigEndian.AppendUint64(buf, l.Index)
	buf = append(buf, 0xa4, 'T', 'e', 'r', 'm', 0xcf)
	buf = binary.BigEndian.AppendUint64(buf, l.Term)
	buf = append(buf, 0xa4, 'T', 'y', 'p', 'e', 0xcc, byte(l.Type))
	buf = append(buf, 0xa4, 'D', 'a', 't', 'a')
	n := len(l.Data)
	switch {
	case n < 1<<8:
		buf = append(buf, 0xc4, byte(n))
	case n < 1<<16:
		buf = append(buf, 0xc5)
		buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	default:
		buf = append(buf, 0xc6)
		buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	}
	return append(buf, l.Data...)
}

// DeleteRange deletes the records with index in [lo, hi] in one
// transaction.
func (b *boltFile) DeleteRange(lo, hi uint64) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], lo)
	return b.db.Update(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketLogs).Cursor()
		for k, _ := c.Seek(key[:]); k != nil && binary.BigEndian.Uint64(k) <= hi; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Set stores v under k in the conf bucket, in one transaction.
func (b *boltFile) Set(k, v []byte) error {
	return b.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketConf).Put(k, v) })
}

// Get returns a copy of the value under k in the conf bucket, or
// raftboltdb.ErrKeyNotFound.
func (b *boltFile) Get(k []byte) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketConf).Get(k)
		if v == nil {
			return raftboltdb.ErrKeyNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}
