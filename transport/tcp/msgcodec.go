package tcp

import (
	"math"

	"github.com/mandate-raft/mandate/wire"
)

// The whole message is written and read by hand, byte for byte as the
// go-msgpack codec writes a wire.Message with wire.MsgpackHandle: a map of
// the fields, the empty omitempty ones left out, keys ordered by name.
// Nodes of earlier versions wrote frames with the codec (its entries by
// entries.go), so both understand each other's frames; msgcodec_test.go
// holds the two to byte equality and checks that each reads the other's.
// The codec's reflection cost more CPU per message than the rest of the
// lane's work, and its raw-value capture walked every MsgApp twice.

// messageFields counts the fields of m that are written.
func messageFields(m *wire.Message) int {
	n := 4 // y, to, fr, t are always written
	for _, set := range [...]bool{m.LogTerm != 0, m.Index != 0, len(m.Entries) > 0, m.Commit != 0,
		m.Snapshot != nil, m.Reject, m.RejectHint != 0, len(m.Context) > 0} {
		if set {
			n++
		}
	}
	return n
}

// appendMessage writes m as the codec writes a wire.Message.
func appendMessage(b []byte, m *wire.Message) []byte {
	b = appendMapLen(b, messageFields(m))
	if m.Commit != 0 {
		b = appendUint(append(b, 0xa1, 'c'), m.Commit)
	}
	if len(m.Entries) > 0 {
		b = appendEntries(append(b, 0xa1, 'e'), m.Entries)
	}
	b = appendStr(append(b, 0xa2, 'f', 'r'), string(m.From))
	if m.Index != 0 {
		b = appendUint(append(b, 0xa2, 'i', 'x'), m.Index)
	}
	if m.LogTerm != 0 {
		b = appendUint(append(b, 0xa2, 'l', 't'), m.LogTerm)
	}
	if m.Reject {
		b = append(b, 0xa1, 'r', 0xc3)
	}
	if m.RejectHint != 0 {
		b = appendUint(append(b, 0xa2, 'r', 'h'), m.RejectHint)
	}
	if m.Snapshot != nil {
		b = appendSnapshotMeta(append(b, 0xa1, 's'), m.Snapshot)
	}
	b = appendUint(append(b, 0xa1, 't'), m.Term)
	b = appendStr(append(b, 0xa2, 't', 'o'), string(m.To))
	if len(m.Context) > 0 {
		b = appendBin(append(b, 0xa1, 'x'), m.Context)
	}
	return appendUint(append(b, 0xa1, 'y'), uint64(m.Type))
}

// appendSnapshotMeta writes s as the codec writes a wire.SnapshotMeta.
func appendSnapshotMeta(b []byte, s *wire.SnapshotMeta) []byte {
	n := 3 // c, i, t are always written
	for _, set := range [...]bool{s.ID != "", s.Checksum != 0, s.Size != 0} {
		if set {
			n++
		}
	}
	b = appendMapLen(b, n)
	b = appendConfig(append(b, 0xa1, 'c'), &s.Config)
	b = appendUint(append(b, 0xa1, 'i'), s.Index)
	if s.ID != "" {
		b = appendStr(append(b, 0xa2, 'i', 'd'), s.ID)
	}
	if s.Checksum != 0 {
		b = appendUint(append(b, 0xa1, 'k'), uint64(s.Checksum))
	}
	if s.Size != 0 {
		b = appendInt(append(b, 0xa1, 's'), s.Size)
	}
	return appendUint(append(b, 0xa1, 't'), s.Term)
}

// message reads one wire.Message, in any key order, skipping keys it does
// not know (a newer peer's fields), as the codec does.
func (r *mpReader) message(m *wire.Message) error {
	n, isNil, err := r.length(true)
	if err != nil {
		return err
	}
	if isNil {
		return r.errorf("the message is nil")
	}
	for i := 0; i < n; i++ {
		k, _, err := r.raw()
		if err != nil {
			return err
		}
		switch string(k) {
		case "y":
			var v uint64
			v, err = r.uint(math.MaxUint8)
			m.Type = wire.MessageType(v)
		case "to":
			m.To, err = r.nodeID()
		case "fr":
			m.From, err = r.nodeID()
		case "t":
			m.Term, err = r.uint(math.MaxUint64)
		case "lt":
			m.LogTerm, err = r.uint(math.MaxUint64)
		case "ix":
			m.Index, err = r.uint(math.MaxUint64)
		case "e":
			m.Entries, err = r.entries()
		case "c":
			m.Commit, err = r.uint(math.MaxUint64)
		case "s":
			m.Snapshot, err = r.snapshotMeta()
		case "r":
			m.Reject, err = r.bool()
		case "rh":
			m.RejectHint, err = r.uint(math.MaxUint64)
		case "x":
			var p []byte
			if p, _, err = r.raw(); err == nil {
				m.Context = nil
				if p != nil {
					m.Context = append([]byte{}, p...)
				}
			}
		default:
			err = r.skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *mpReader) bool() (bool, error) {
	c, err := r.byte1()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2, mpNil:
		return false, nil
	case 0xc3:
		return true, nil
	}
	r.pos--
	return false, r.errorf("0x%02x is not a bool", c)
}

// nodeID reads a string naming a node. A connection carries the same few
// names over and over: the last ones read are kept and handed out again
// instead of allocating a new string for each.
func (r *mpReader) nodeID() (wire.NodeID, error) {
	p, _, err := r.raw()
	if err != nil || len(p) == 0 {
		return "", err
	}
	if r.names == nil {
		return wire.NodeID(p), nil
	}
	for _, s := range r.names {
		if string(s) == string(p) {
			return s, nil
		}
	}
	s := wire.NodeID(p)
	copy(r.names[1:], r.names[:len(r.names)-1])
	r.names[0] = s
	return s, nil
}

func (r *mpReader) snapshotMeta() (*wire.SnapshotMeta, error) {
	n, isNil, err := r.length(true)
	if err != nil || isNil {
		return nil, err
	}
	s := &wire.SnapshotMeta{}
	for i := 0; i < n; i++ {
		k, _, err := r.raw()
		if err != nil {
			return nil, err
		}
		switch string(k) {
		case "id":
			s.ID, err = r.str()
		case "i":
			s.Index, err = r.uint(math.MaxUint64)
		case "t":
			s.Term, err = r.uint(math.MaxUint64)
		case "c":
			var c *wire.Configuration
			if c, err = r.config(); err == nil {
				s.Config = wire.Configuration{}
				if c != nil {
					s.Config = *c
				}
			}
		case "s":
			s.Size, err = r.int64()
		case "k":
			var v uint64
			v, err = r.uint(math.MaxUint32)
			s.Checksum = uint32(v)
		default:
			err = r.skip()
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}
