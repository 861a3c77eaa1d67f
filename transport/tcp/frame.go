package tcp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mandate-raft/mandate/wire"
)

// A frame is a 4-byte big-endian length followed by that many bytes. On
// the message lanes each frame is one msgpack-encoded wire.Message (see
// msgcodec.go).
const frameHeaderLen = 4

// Errors about what a peer sent; the connection that carried it is closed.
var (
	// ErrFrameTooLarge means a frame announced more than MaxFrameSize.
	ErrFrameTooLarge = errors.New("tcp: frame too large")
	// ErrBadMessage means a frame did not hold an acceptable message.
	ErrBadMessage = errors.New("tcp: bad message")
)

// frameGrowStep is how much of an announced frame is allocated before its
// bytes arrive: a peer that announces a large frame and sends nothing
// makes us allocate no more than this.
const frameGrowStep = 64 << 10

// shrinkAbove is the buffer capacity kept between frames; a larger one
// (left by a large frame) is released.
const shrinkAbove = 4 << 20

// frameReader reads frames from one connection, reusing its buffer.
type frameReader struct {
	r   io.Reader
	max int
	buf []byte
}

// next returns the next frame's payload, valid until the next call.
func (fr *frameReader) next() ([]byte, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > fr.max || n < 0 {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrFrameTooLarge, n, fr.max)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrBadMessage)
	}
	if cap(fr.buf) > shrinkAbove {
		fr.buf = nil
	}
	buf := fr.buf[:0]
	for len(buf) < n {
		step := n - len(buf)
		if grow := max(len(buf), frameGrowStep); step > grow {
			step = grow
		}
		if cap(buf)-len(buf) < step {
			nb := make([]byte, len(buf), len(buf)+step)
			copy(nb, buf)
			buf = nb
		}
		k := len(buf)
		buf = buf[:k+step]
		if _, err := io.ReadFull(fr.r, buf[k:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("truncated frame of %d bytes: %w", n, err)
		}
	}
	fr.buf = buf
	return buf, nil
}

// writeFrame writes one frame to w (buffered: the caller flushes).
func writeFrame(w *bufio.Writer, payload []byte) error {
	var hdr [frameHeaderLen]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// msgEncoder encodes messages for one connection, reusing its buffer.
type msgEncoder struct {
	buf []byte
}

func newMsgEncoder() *msgEncoder { return &msgEncoder{} }

// encode returns m's bytes, valid until the next call.
func (e *msgEncoder) encode(m *wire.Message) ([]byte, error) {
	if cap(e.buf) > shrinkAbove {
		e.buf = nil
	}
	e.buf = appendMessage(e.buf[:0], m)
	return e.buf, nil
}

// msgDecoder decodes messages for one connection, keeping the node names
// it saw last so that each message does not allocate them again.
type msgDecoder struct {
	names [4]wire.NodeID
}

func newMsgDecoder() *msgDecoder { return &msgDecoder{} }

// decode parses one frame's payload into a message and refuses what may
// not come from the network: malformed or truncated msgpack, a value
// whose decoding would cost far more memory than its bytes (more than
// maxArrayElements array elements, an unknown field nested deeper than
// maxShapeDepth), an unknown or local-only type, or bytes after the
// message. Nothing is allocated for a declared length before the bytes
// it declares are known to be there. The message shares no memory with
// payload.
func (d *msgDecoder) decode(payload []byte) (m wire.Message, err error) {
	r := mpReader{b: payload, names: d.names[:]}
	if err := r.message(&m); err != nil {
		return wire.Message{}, err
	}
	if r.pos != len(payload) {
		return wire.Message{}, fmt.Errorf("%w: %d trailing bytes", ErrBadMessage, len(payload)-r.pos)
	}
	if !m.Type.Valid() {
		return wire.Message{}, fmt.Errorf("%w: unknown type %d", ErrBadMessage, uint8(m.Type))
	}
	if m.Type.IsLocal() {
		return wire.Message{}, fmt.Errorf("%w: local-only type %s", ErrBadMessage, m.Type)
	}
	return m, nil
}
