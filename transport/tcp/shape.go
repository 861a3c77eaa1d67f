package tcp

import (
	"encoding/binary"
	"fmt"
)

// Limits on the shape of one msgpack message. The message decoder counts
// array elements against maxArrayElements as it reads, and skips a field
// it does not know with shapeLen, which enforces all three.
// A decoder turns each array element into a struct (a wire.Entry takes 88
// bytes) even when its encoding is a single byte, so without a bound a
// frame of empty maps would cost about 88 times its size in memory. An
// honest MsgApp carries at most a few hundred thousand entries, each
// encoded in at least ten bytes.
const (
	// maxArrayElements bounds the elements of all arrays of one message:
	// at most ~90 MB of decoded entries whatever the frame holds.
	maxArrayElements = 1 << 20
	// maxObjects bounds the msgpack values of one message, which bounds
	// the decoder's work on maps that repeat a key.
	maxObjects = 1 << 23
	// maxShapeDepth is the nesting a wire.Message needs (message, entries,
	// entry, config, servers, server) with room to spare.
	maxShapeDepth = 16
)

// checkShape walks the msgpack value in p without decoding it and refuses
// one that is malformed, truncated, nested too deep, or larger than the
// limits above, so that the decoder only ever sees a value whose decoded
// size is bounded. It allocates nothing beyond a small stack.
func checkShape(p []byte) error {
	n, err := shapeLen(p)
	if err != nil {
		return err
	}
	if n != len(p) {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadMessage, len(p)-n)
	}
	return nil
}

// shapeLen checks the first msgpack value in p as checkShape does and
// returns how many bytes it takes.
func shapeLen(p []byte) (int, error) {
	var stackBuf [maxShapeDepth + 1]uint64
	stack := append(stackBuf[:0], 1) // values still expected, per level
	pos := 0
	objects, elements := 0, 0
	need := func(n uint64) error {
		if uint64(len(p)-pos) < n {
			return fmt.Errorf("%w: value at %d runs past the end of the frame", ErrBadMessage, pos)
		}
		return nil
	}
	readLen := func(size int) (uint64, error) {
		if err := need(uint64(size)); err != nil {
			return 0, err
		}
		var n uint64
		switch size {
		case 1:
			n = uint64(p[pos])
		case 2:
			n = uint64(binary.BigEndian.Uint16(p[pos:]))
		case 4:
			n = uint64(binary.BigEndian.Uint32(p[pos:]))
		}
		pos += size
		return n, nil
	}
	skip := func(n uint64) error {
		if err := need(n); err != nil {
			return err
		}
		pos += int(n)
		return nil
	}
	for len(stack) > 0 {
		top := len(stack) - 1
		if stack[top] == 0 {
			stack = stack[:top]
			continue
		}
		stack[top]--
		if err := need(1); err != nil {
			return 0, err
		}
		objects++
		if objects > maxObjects {
			return 0, fmt.Errorf("%w: more than %d values", ErrBadMessage, maxObjects)
		}
		b := p[pos]
		pos++
		var items uint64 // values a container holds
		isArray := false
		var err error
		switch {
		case b <= 0x7f, b >= 0xe0, b == 0xc0, b == 0xc2, b == 0xc3:
			// fixint, nil, bool: the byte is the value
		case b&0xf0 == 0x80: // fixmap
			items = 2 * uint64(b&0x0f)
		case b&0xf0 == 0x90: // fixarray
			items, isArray = uint64(b&0x0f), true
		case b&0xe0 == 0xa0: // fixstr
			err = skip(uint64(b & 0x1f))
		default:
			switch b {
			case 0xc4, 0xd9: // bin8, str8
				var n uint64
				if n, err = readLen(1); err == nil {
					err = skip(n)
				}
			case 0xc5, 0xda: // bin16, str16
				var n uint64
				if n, err = readLen(2); err == nil {
					err = skip(n)
				}
			case 0xc6, 0xdb: // bin32, str32
				var n uint64
				if n, err = readLen(4); err == nil {
					err = skip(n)
				}
			case 0xc7, 0xc8, 0xc9: // ext8/16/32: length, type, data
				var n uint64
				if n, err = readLen(1 << (b - 0xc7)); err == nil {
					err = skip(n + 1)
				}
			case 0xcc, 0xd0:
				err = skip(1)
			case 0xcd, 0xd1:
				err = skip(2)
			case 0xca, 0xce, 0xd2:
				err = skip(4)
			case 0xcb, 0xcf, 0xd3:
				err = skip(8)
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16, plus type
				err = skip(1 + 1<<(b-0xd4))
			case 0xdc:
				items, err = readLen(2)
				isArray = true
			case 0xdd:
				items, err = readLen(4)
				isArray = true
			case 0xde:
				items, err = readLen(2)
				items *= 2
			case 0xdf:
				items, err = readLen(4)
				items *= 2
			default: // 0xc1 is never used
				return 0, fmt.Errorf("%w: invalid msgpack byte 0x%02x at %d", ErrBadMessage, b, pos-1)
			}
		}
		if err != nil {
			return 0, err
		}
		if items == 0 {
			continue
		}
		// Each value takes at least one byte: a container cannot hold
		// more values than bytes remain.
		if err := need(items); err != nil {
			return 0, err
		}
		if isArray {
			elements += int(items)
			if elements > maxArrayElements {
				return 0, fmt.Errorf("%w: more than %d array elements", ErrBadMessage, maxArrayElements)
			}
		}
		if len(stack) > maxShapeDepth {
			return 0, fmt.Errorf("%w: nested deeper than %d", ErrBadMessage, maxShapeDepth)
		}
		stack = append(stack, items)
	}
	return pos, nil
}
