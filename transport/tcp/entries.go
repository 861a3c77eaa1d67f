package tcp

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mandate-raft/mandate/wire"
)

// The entries of a MsgApp are most of the bytes Mandate sends. The code
// below writes and reads them by hand, byte for byte as the codec writes
// []wire.Entry with wire.MsgpackHandle (entries_test.go holds it to that);
// msgcodec.go does the same for the rest of the message.

// msgpack format bytes used below.
const (
	mpNil     = 0xc0
	mpBin8    = 0xc4
	mpBin16   = 0xc5
	mpBin32   = 0xc6
	mpUint8   = 0xcc
	mpUint16  = 0xcd
	mpUint32  = 0xce
	mpUint64  = 0xcf
	mpInt8    = 0xd0
	mpInt16   = 0xd1
	mpInt32   = 0xd2
	mpInt64   = 0xd3
	mpStr8    = 0xd9
	mpStr16   = 0xda
	mpStr32   = 0xdb
	mpArray16 = 0xdc
	mpArray32 = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
)

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, mpUint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpUint16), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, mpUint32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, mpUint64), v)
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v > math.MaxInt8:
		if v <= math.MaxInt16 {
			return binary.BigEndian.AppendUint16(append(b, mpInt16), uint16(v))
		} else if v <= math.MaxInt32 {
			return binary.BigEndian.AppendUint32(append(b, mpInt32), uint32(v))
		}
		return binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, mpInt8, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, mpInt16), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, mpInt32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(v))
}

// appendLen writes a container or string header: fix form below fixCut
// (0 for none), then the 8-bit form (0 for none), 16 and 32 bits.
func appendLen(b []byte, n int, fixMin byte, fixCut int, b8, b16, b32 byte) []byte {
	switch {
	case fixCut > 0 && n < fixCut:
		return append(b, fixMin|byte(n))
	case b8 != 0 && n < 256:
		return append(b, b8, byte(n))
	case n < 65536:
		return binary.BigEndian.AppendUint16(append(b, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, b32), uint32(n))
}

func appendStr(b []byte, s string) []byte {
	return append(appendLen(b, len(s), 0xa0, 32, mpStr8, mpStr16, mpStr32), s...)
}

func appendBin(b, p []byte) []byte {
	return append(appendLen(b, len(p), 0, 0, mpBin8, mpBin16, mpBin32), p...)
}

func appendMapLen(b []byte, n int) []byte {
	return appendLen(b, n, 0x80, 16, 0, mpMap16, mpMap32)
}

func appendArrayLen(b []byte, n int) []byte {
	return appendLen(b, n, 0x90, 16, 0, mpArray16, mpArray32)
}

// appendEntries writes es as the codec writes a []wire.Entry.
func appendEntries(b []byte, es []wire.Entry) []byte {
	if es == nil {
		return append(b, mpNil)
	}
	b = appendArrayLen(b, len(es))
	for i := range es {
		b = appendEntry(b, &es[i])
	}
	return b
}

// appendEntry writes e as a map of its fields, leaving out the empty
// omitempty ones and ordering keys by name, as the codec does.
func appendEntry(b []byte, e *wire.Entry) []byte {
	n := 3
	for _, set := range [...]bool{len(e.Data) > 0, e.Config != nil, e.Origin != "", e.ProposalID != 0, e.Time != 0} {
		if set {
			n++
		}
	}
	b = appendMapLen(b, n)
	if e.Config != nil {
		b = appendConfig(append(b, 0xa1, 'c'), e.Config)
	}
	if len(e.Data) > 0 {
		b = appendBin(append(b, 0xa1, 'd'), e.Data)
	}
	b = appendUint(append(b, 0xa1, 'i'), e.Index)
	if e.Origin != "" {
		b = appendStr(append(b, 0xa1, 'o'), string(e.Origin))
	}
	if e.ProposalID != 0 {
		b = appendUint(append(b, 0xa1, 'p'), e.ProposalID)
	}
	b = appendUint(append(b, 0xa1, 't'), e.Term)
	if e.Time != 0 {
		b = appendInt(append(b, 0xa1, 'w'), e.Time)
	}
	return appendUint(append(b, 0xa1, 'y'), uint64(e.Type))
}

func appendConfig(b []byte, c *wire.Configuration) []byte {
	b = append(b, 0x81, 0xa1, 's')
	if c.Servers == nil {
		return append(b, mpNil)
	}
	b = appendArrayLen(b, len(c.Servers))
	for _, s := range c.Servers {
		b = appendStr(append(b, 0x83, 0xa1, 'a'), s.Address)
		b = appendStr(append(b, 0xa2, 'i', 'd'), string(s.ID))
		b = appendUint(append(b, 0xa1, 'r'), uint64(s.Role))
	}
	return b
}

// mpReader parses msgpack values from a buffer. Its methods accept what
// the codec would decode into the same Go type for the forms an encoder
// may choose (any integer width, str or bin for bytes and strings, nil
// for a zero value) and refuse the rest.
type mpReader struct {
	b   []byte
	pos int
	// data holds the Data of every entry read, so that a batch costs one
	// allocation instead of one per entry. Each entry's Data is capped at
	// its own length: appending to it copies rather than overwrites the
	// next entry's bytes.
	data []byte
	// elements counts the array elements read, against maxArrayElements:
	// a decoded entry takes 88 bytes however few its encoding takes.
	elements int
	// names, if not nil, holds the node names read last (see nodeID).
	names []wire.NodeID
}

func (r *mpReader) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrBadMessage, r.pos, fmt.Sprintf(format, args...))
}

func (r *mpReader) take(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.pos < n {
		return nil, r.errorf("value runs past the end")
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p, nil
}

func (r *mpReader) byte1() (byte, error) {
	p, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// fixed reads an n-byte big-endian unsigned number.
func (r *mpReader) fixed(n int) (uint64, error) {
	p, err := r.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// number reads any msgpack integer (or nil, as zero) as a sign and a
// magnitude that fits in 64 bits.
func (r *mpReader) number() (neg bool, mag uint64, err error) {
	c, err := r.byte1()
	if err != nil {
		return false, 0, err
	}
	switch {
	case c <= 0x7f:
		return false, uint64(c), nil
	case c >= 0xe0:
		return true, uint64(-int64(int8(c))), nil
	case c == mpNil:
		return false, 0, nil
	case c >= mpUint8 && c <= mpUint64:
		v, err := r.fixed(1 << (c - mpUint8))
		return false, v, err
	case c >= mpInt8 && c <= mpInt64:
		size := 1 << (c - mpInt8)
		u, err := r.fixed(size)
		if err != nil {
			return false, 0, err
		}
		shift := 64 - 8*size
		v := int64(u<<shift) >> shift // sign-extend
		if v < 0 {
			return true, uint64(-v), nil
		}
		return false, uint64(v), nil
	}
	r.pos--
	return false, 0, r.errorf("0x%02x is not an integer", c)
}

// key1 reads a map key that names a field of an entry. Those names are
// one character long: it returns that character, or 0 for a key of
// another length (an unknown field, whose value the caller skips).
func (r *mpReader) key1() (byte, error) {
	if r.pos+1 < len(r.b) && r.b[r.pos] == 0xa1 { // the fixstr of one byte every encoder writes
		k := r.b[r.pos+1]
		r.pos += 2
		return k, nil
	}
	p, _, err := r.raw()
	if err != nil || len(p) != 1 {
		return 0, err
	}
	return p[0], nil
}

func (r *mpReader) uint(max uint64) (uint64, error) {
	if r.pos < len(r.b) && r.b[r.pos] <= 0x7f && uint64(r.b[r.pos]) <= max { // positive fixint
		r.pos++
		return uint64(r.b[r.pos-1]), nil
	}
	neg, v, err := r.number()
	if err != nil {
		return 0, err
	}
	if (neg && v != 0) || v > max {
		return 0, r.errorf("integer out of range")
	}
	return v, nil
}

func (r *mpReader) int64() (int64, error) {
	neg, v, err := r.number()
	if err != nil {
		return 0, err
	}
	if neg {
		if v > 1<<63 {
			return 0, r.errorf("integer out of range")
		}
		return int64(-v), nil // -(1<<63) wraps to itself, as it should
	}
	if v > math.MaxInt64 {
		return 0, r.errorf("integer out of range")
	}
	return int64(v), nil
}

// raw reads a str or bin value's bytes (aliasing the buffer); isNil for
// nil.
func (r *mpReader) raw() (p []byte, isNil bool, err error) {
	c, err := r.byte1()
	if err != nil {
		return nil, false, err
	}
	var n uint64
	switch {
	case c == mpNil:
		return nil, true, nil
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == mpStr8 || c == mpBin8:
		n, err = r.fixed(1)
	case c == mpStr16 || c == mpBin16:
		n, err = r.fixed(2)
	case c == mpStr32 || c == mpBin32:
		n, err = r.fixed(4)
	default:
		r.pos--
		return nil, false, r.errorf("0x%02x is not a string", c)
	}
	if err != nil {
		return nil, false, err
	}
	p, err = r.take(int(n))
	return p, false, err
}

func (r *mpReader) str() (string, error) {
	p, _, err := r.raw()
	return string(p), err
}

// length reads a map (pairs) or array header; isNil for nil.
func (r *mpReader) length(isMap bool) (n int, isNil bool, err error) {
	c, err := r.byte1()
	if err != nil {
		return 0, false, err
	}
	fix, b16, b32 := byte(0x90), byte(mpArray16), byte(mpArray32)
	if isMap {
		fix, b16, b32 = 0x80, mpMap16, mpMap32
	}
	var v uint64
	switch {
	case c == mpNil:
		return 0, true, nil
	case c&0xf0 == fix:
		v = uint64(c & 0x0f)
	case c == b16:
		v, err = r.fixed(2)
	case c == b32:
		v, err = r.fixed(4)
	default:
		r.pos--
		return 0, false, r.errorf("0x%02x is not the expected container", c)
	}
	if err != nil {
		return 0, false, err
	}
	// Every element takes a byte at least: refuse lengths the buffer
	// cannot hold before allocating for them.
	if v > uint64(len(r.b)-r.pos) {
		return 0, false, r.errorf("container of %d values in %d bytes", v, len(r.b)-r.pos)
	}
	if !isMap {
		if r.elements += int(v); r.elements > maxArrayElements {
			return 0, false, r.errorf("more than %d array elements", maxArrayElements)
		}
	}
	return int(v), false, nil
}

// skip passes over one value of any kind (an unknown field).
func (r *mpReader) skip() error {
	start := r.pos
	n, err := shapeLen(r.b[r.pos:])
	if err != nil {
		r.pos = start
		return r.errorf("cannot skip unknown field: %v", err)
	}
	r.pos += n
	return nil
}

func parseEntries(b []byte) ([]wire.Entry, error) {
	r := &mpReader{b: b}
	es, err := r.entries()
	if err != nil {
		return nil, err
	}
	if r.pos != len(b) {
		return nil, r.errorf("%d trailing bytes", len(b)-r.pos)
	}
	return es, nil
}

func (r *mpReader) entries() ([]wire.Entry, error) {
	n, isNil, err := r.length(false)
	if err != nil || isNil {
		return nil, err
	}
	es := make([]wire.Entry, n)
	for i := range es {
		if err := r.entry(&es[i]); err != nil {
			return nil, err
		}
	}
	return es, nil
}

func (r *mpReader) entry(e *wire.Entry) error {
	n, _, err := r.length(true)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k, err := r.key1()
		if err != nil {
			return err
		}
		switch k {
		case 'i':
			e.Index, err = r.uint(math.MaxUint64)
		case 't':
			e.Term, err = r.uint(math.MaxUint64)
		case 'y':
			var v uint64
			v, err = r.uint(math.MaxUint8)
			e.Type = wire.EntryType(v)
		case 'd':
			var p []byte
			p, _, err = r.raw()
			e.Data = nil
			if len(p) > 0 {
				if r.data == nil {
					// Every Data lies within the buffer: one allocation
					// of its size holds them all.
					r.data = make([]byte, 0, len(r.b))
				}
				k := len(r.data)
				r.data = append(r.data, p...)
				e.Data = r.data[k:len(r.data):len(r.data)]
			} else if p != nil {
				e.Data = []byte{}
			}
		case 'c':
			e.Config, err = r.config()
		case 'o':
			e.Origin, err = r.nodeID()
		case 'p':
			e.ProposalID, err = r.uint(math.MaxUint64)
		case 'w':
			e.Time, err = r.int64()
		default:
			err = r.skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *mpReader) config() (*wire.Configuration, error) {
	n, isNil, err := r.length(true)
	if err != nil || isNil {
		return nil, err
	}
	c := &wire.Configuration{}
	for i := 0; i < n; i++ {
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		if k != "s" {
			if err := r.skip(); err != nil {
				return nil, err
			}
			continue
		}
		m, isNil, err := r.length(false)
		if err != nil {
			return nil, err
		}
		c.Servers = nil
		if isNil {
			continue
		}
		c.Servers = make([]wire.Server, m)
		for j := range c.Servers {
			if err := r.server(&c.Servers[j]); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func (r *mpReader) server(s *wire.Server) error {
	n, _, err := r.length(true)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k, err := r.str()
		if err != nil {
			return err
		}
		switch k {
		case "id":
			var v string
			v, err = r.str()
			s.ID = wire.NodeID(v)
		case "a":
			s.Address, err = r.str()
		case "r":
			var v uint64
			v, err = r.uint(math.MaxUint8)
			s.Role = wire.Role(v)
		default:
			err = r.skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}
