package tcp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/mandate-raft/mandate/wire"
)

// A frame is a 4-byte big-endian length followed by that many bytes. On
// the message lanes each frame is one msgpack-encoded wire.Message.
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

// newHandle returns the msgpack handle of one encoder or decoder, with
// the decoder's defences against hostile input: small initial
// allocations whatever length a peer declares, and shallow nesting.
func newHandle() *codec.MsgpackHandle {
	h := wire.MsgpackHandle()
	h.MaxInitLen = 1024
	h.MaxDepth = 16
	// Lets frameMsg carry its pre-encoded entries; the bytes on the wire
	// are those of a plain wire.Message.
	h.Raw = true
	return h
}

// frameMsg is wire.Message as the codec sees it on a message lane: the
// same fields with the same tags, except that Entries holds the entries
// array already encoded (see entries.go). A test keeps the two in step.
type frameMsg struct {
	Type       wire.MessageType   `codec:"y"`
	To         wire.NodeID        `codec:"to"`
	From       wire.NodeID        `codec:"fr"`
	Term       uint64             `codec:"t"`
	LogTerm    uint64             `codec:"lt,omitempty"`
	Index      uint64             `codec:"ix,omitempty"`
	Entries    codec.Raw          `codec:"e,omitempty"`
	Commit     uint64             `codec:"c,omitempty"`
	Snapshot   *wire.SnapshotMeta `codec:"s,omitempty"`
	Reject     bool               `codec:"r,omitempty"`
	RejectHint uint64             `codec:"rh,omitempty"`
	Context    []byte             `codec:"x,omitempty"`
}

// msgEncoder encodes messages for one connection, reusing its encoder and
// buffer.
type msgEncoder struct {
	enc  *codec.Encoder
	buf  []byte
	ents []byte // the entries of the message being encoded
}

func newMsgEncoder() *msgEncoder {
	e := &msgEncoder{}
	e.enc = codec.NewEncoderBytes(&e.buf, newHandle())
	return e
}

// encode returns m's bytes, valid until the next call.
func (e *msgEncoder) encode(m *wire.Message) ([]byte, error) {
	if cap(e.buf) > shrinkAbove {
		e.buf = nil
	}
	if cap(e.ents) > shrinkAbove {
		e.ents = nil
	}
	fm := frameMsg{
		Type: m.Type, To: m.To, From: m.From, Term: m.Term, LogTerm: m.LogTerm,
		Index: m.Index, Commit: m.Commit, Snapshot: m.Snapshot, Reject: m.Reject,
		RejectHint: m.RejectHint, Context: m.Context,
	}
	if len(m.Entries) > 0 {
		e.ents = appendEntries(e.ents[:0], m.Entries)
		fm.Entries = e.ents
	}
	e.buf = e.buf[:0]
	e.enc.ResetBytes(&e.buf)
	if err := e.enc.Encode(&fm); err != nil {
		return nil, fmt.Errorf("tcp: encode %s: %w", m.Type, err)
	}
	return e.buf, nil
}

// msgDecoder decodes messages for one connection, reusing its decoder.
type msgDecoder struct {
	dec *codec.Decoder
}

func newMsgDecoder() *msgDecoder {
	return &msgDecoder{dec: codec.NewDecoderBytes(nil, newHandle())}
}

// decode parses one frame's payload into a message and refuses what may
// not come from the network: a value whose decoding would cost far more
// memory than its bytes (see checkShape), an unknown or local-only type,
// or bytes after the message. The message shares no memory with payload.
func (d *msgDecoder) decode(payload []byte) (m wire.Message, err error) {
	if err := checkShape(payload); err != nil {
		return wire.Message{}, err
	}
	d.dec.ResetBytes(payload)
	var fm frameMsg
	if err := d.dec.Decode(&fm); err != nil {
		// %v, not %w: a decoder's io.EOF means a short payload, and must
		// not read as the peer hanging up.
		return wire.Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if n := d.dec.NumBytesRead(); n != len(payload) {
		return wire.Message{}, fmt.Errorf("%w: %d trailing bytes", ErrBadMessage, len(payload)-n)
	}
	m = wire.Message{
		Type: fm.Type, To: fm.To, From: fm.From, Term: fm.Term, LogTerm: fm.LogTerm,
		Index: fm.Index, Commit: fm.Commit, Snapshot: fm.Snapshot, Reject: fm.Reject,
		RejectHint: fm.RejectHint, Context: fm.Context,
	}
	if fm.Entries != nil {
		if m.Entries, err = parseEntries(fm.Entries); err != nil {
			return wire.Message{}, err
		}
	}
	if !m.Type.Valid() {
		return wire.Message{}, fmt.Errorf("%w: unknown type %d", ErrBadMessage, uint8(m.Type))
	}
	if m.Type.IsLocal() {
		return wire.Message{}, fmt.Errorf("%w: local-only type %s", ErrBadMessage, m.Type)
	}
	return m, nil
}
