// Package verify provides the checksum-verifying, seekable reader that
// snapshot stores hand out from Open.
package verify

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/mandate-raft/mandate/snapshot"
)

// Castagnoli is the CRC-32C table every snapshot checksum uses.
var Castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reader reads size bytes from an io.ReaderAt and, when a read reaches the
// end, checks them against the expected CRC-32C: the read that would return
// io.EOF returns an error wrapping snapshot.ErrCorrupt instead if they
// differ, or if the data is shorter than size. Sequential reads from the
// start are hashed on the fly; after a Seek elsewhere the whole data is
// read once more at the end to check it, so a resumed transfer is checked
// too. A Reader is not safe for concurrent use.
type Reader struct {
	ra     io.ReaderAt
	closer io.Closer
	name   string
	size   int64
	want   uint32

	pos    int64
	crc    uint32
	hashed int64 // bytes [0, hashed) are in crc; hashing goes on while pos == hashed
	err    error // set once the end was checked: io.EOF or the corruption
}

// NewReader returns a Reader of ra's first size bytes, expected to have
// checksum sum. name is used in errors; closer (which may be nil) is
// closed by Close.
func NewReader(ra io.ReaderAt, size int64, sum uint32, name string, closer io.Closer) *Reader {
	return &Reader{ra: ra, closer: closer, name: name, size: size, want: sum}
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, r.finish()
	}
	if len(p) == 0 {
		return 0, nil
	}
	if rem := r.size - r.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := r.ra.ReadAt(p, r.pos)
	if r.pos == r.hashed {
		r.crc = crc32.Update(r.crc, Castagnoli, p[:n])
		r.hashed += int64(n)
	}
	r.pos += int64(n)
	switch {
	case err == nil || (errors.Is(err, io.EOF) && n == len(p)):
		return n, nil
	case errors.Is(err, io.EOF):
		return n, fmt.Errorf("%w: %s: data ends at byte %d of %d", snapshot.ErrCorrupt, r.name, r.pos, r.size)
	default:
		return n, fmt.Errorf("snapshot: read %s at byte %d: %w", r.name, r.pos, err)
	}
}

// finish checks the checksum once, the first time the end is reached.
func (r *Reader) finish() error {
	if r.err != nil {
		return r.err
	}
	sum := r.crc
	if r.hashed != r.size {
		var err error
		if sum, err = Checksum(r.ra, r.size); err != nil {
			return fmt.Errorf("snapshot: verify %s: %w", r.name, err)
		}
	}
	if sum != r.want {
		r.err = fmt.Errorf("%w: %s: checksum %08x, want %08x", snapshot.ErrCorrupt, r.name, sum, r.want)
	} else {
		r.err = io.EOF
	}
	return r.err
}

// Seek implements io.Seeker. Seeking past the end is allowed; reads there
// return the end-of-data result.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return r.pos, fmt.Errorf("snapshot: seek %s: invalid whence %d", r.name, whence)
	}
	if abs < 0 {
		return r.pos, fmt.Errorf("snapshot: seek %s: negative position %d", r.name, abs)
	}
	r.pos = abs
	return abs, nil
}

// Close closes the underlying data.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// Checksum returns the CRC-32C of ra's first size bytes, failing with an
// error wrapping snapshot.ErrCorrupt if there are fewer.
func Checksum(ra io.ReaderAt, size int64) (uint32, error) {
	buf := make([]byte, 256<<10)
	var sum uint32
	for off := int64(0); off < size; {
		chunk := buf
		if rem := size - off; int64(len(chunk)) > rem {
			chunk = chunk[:rem]
		}
		n, err := ra.ReadAt(chunk, off)
		sum = crc32.Update(sum, Castagnoli, chunk[:n])
		off += int64(n)
		if err != nil && !(errors.Is(err, io.EOF) && n == len(chunk)) {
			if errors.Is(err, io.EOF) {
				return sum, fmt.Errorf("%w: data ends at byte %d of %d", snapshot.ErrCorrupt, off, size)
			}
			return sum, err
		}
	}
	return sum, nil
}
