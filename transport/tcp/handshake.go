package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mandate-raft/mandate/wire"
)

// The handshake opens every connection, from the dialing side:
//
//	magic "MNDT" | version uint16 | lane byte |
//	len byte | cluster id | len byte | sender id | len byte | receiver id
//
// and the accepting side answers with
//
//	status byte (0 = accepted) | len byte | reason
//
// before any frame flows.
const (
	handshakeMagic = "MNDT"
	// ProtocolVersion is the version of the framing and handshake this
	// package speaks; a peer announcing another one is refused.
	ProtocolVersion uint16 = 1
	// maxIDLen bounds the cluster and node ids (one length byte each).
	maxIDLen int = 255
)

// lane says what a connection carries. Separate connections keep small
// messages from queueing behind appends, and both from waiting behind
// snapshots.
type lane uint8

const (
	laneControl  lane = 1 // votes, heartbeats, responses: small and urgent
	laneBulk     lane = 2 // MsgApp and MsgProp: large, pipelined
	laneSnapshot lane = 3 // one snapshot stream
)

func (l lane) String() string {
	switch l {
	case laneControl:
		return "control"
	case laneBulk:
		return "bulk"
	case laneSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("lane(%d)", uint8(l))
}

// Errors of the handshake.
var (
	// ErrHandshake is wrapped by every error about a malformed handshake.
	ErrHandshake = errors.New("tcp: bad handshake")
	// ErrRefused is wrapped by the error a dialer gets when the peer
	// refuses its handshake (other cluster, other version, wrong node).
	ErrRefused = errors.New("tcp: connection refused by peer")
)

// hello is the decoded handshake of a dialer.
type hello struct {
	Version uint16
	Lane    lane
	Cluster string
	From    wire.NodeID
	To      wire.NodeID
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// encode returns h's bytes. Its strings must be at most maxIDLen bytes
// (Config.validate and SetPeer see to it).
func (h hello) encode() []byte {
	b := make([]byte, 0, 16+len(h.Cluster)+len(h.From)+len(h.To))
	b = append(b, handshakeMagic...)
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = append(b, byte(h.Lane))
	b = appendString(b, h.Cluster)
	b = appendString(b, string(h.From))
	return appendString(b, string(h.To))
}

func readString(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	b := make([]byte, n[0])
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// errVersion marks a well-formed handshake of an unknown version: it is
// answered with a clear refusal rather than dropped.
var errVersion = errors.New("unsupported protocol version")

// decodeHello reads a dialer's handshake from r. It reads at most
// 7+3*(1+maxIDLen) bytes whatever r holds.
func decodeHello(r io.Reader) (hello, error) {
	var fixed [7]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return hello{}, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if string(fixed[:4]) != handshakeMagic {
		return hello{}, fmt.Errorf("%w: bad magic %q", ErrHandshake, fixed[:4])
	}
	h := hello{Version: binary.BigEndian.Uint16(fixed[4:6]), Lane: lane(fixed[6])}
	if h.Version != ProtocolVersion {
		return h, fmt.Errorf("%w: %w %d (this node speaks %d)", ErrHandshake, errVersion, h.Version, ProtocolVersion)
	}
	if h.Lane < laneControl || h.Lane > laneSnapshot {
		return h, fmt.Errorf("%w: unknown lane %d", ErrHandshake, h.Lane)
	}
	var err error
	if h.Cluster, err = readString(r); err != nil {
		return h, fmt.Errorf("%w: cluster id: %w", ErrHandshake, err)
	}
	from, err := readString(r)
	if err != nil {
		return h, fmt.Errorf("%w: sender id: %w", ErrHandshake, err)
	}
	to, err := readString(r)
	if err != nil {
		return h, fmt.Errorf("%w: receiver id: %w", ErrHandshake, err)
	}
	h.From, h.To = wire.NodeID(from), wire.NodeID(to)
	if h.Cluster == "" || h.From == wire.None {
		return h, fmt.Errorf("%w: empty cluster or sender id", ErrHandshake)
	}
	return h, nil
}

// encodeVerdict returns the acceptor's answer: accepted when reason is
// empty, refused with reason otherwise.
func encodeVerdict(reason string) []byte {
	if reason == "" {
		return []byte{0, 0}
	}
	if len(reason) > maxIDLen {
		reason = reason[:maxIDLen]
	}
	return appendString([]byte{1}, reason)
}

// decodeVerdict reads the acceptor's answer; a refusal is an error
// wrapping ErrRefused with the peer's reason.
func decodeVerdict(r io.Reader) error {
	var status [1]byte
	if _, err := io.ReadFull(r, status[:]); err != nil {
		return fmt.Errorf("%w: reading verdict: %w", ErrHandshake, err)
	}
	reason, err := readString(r)
	if err != nil {
		return fmt.Errorf("%w: reading verdict: %w", ErrHandshake, err)
	}
	switch status[0] {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%w: %s", ErrRefused, reason)
	}
	return fmt.Errorf("%w: unknown verdict status %d", ErrHandshake, status[0])
}
