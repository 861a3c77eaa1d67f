package lock

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on commands.
const (
	MaxNameLen = 256
	MaxTTL     = 7 * 24 * time.Hour
	MaxWait    = 24 * time.Hour
	// MaxWaiters bounds the queue of one lock.
	MaxWaiters = 1024
)

// Command is a lock service write; Encode gives its binary form.
type Command interface {
	Encode() []byte
	command()
}

// Acquire asks for Name on behalf of Owner for TTL. With a positive Wait,
// an Owner that finds the lock held queues until now + Wait.
type Acquire struct {
	Name, Owner string
	TTL         time.Duration
	Wait        time.Duration
}

// Renew extends the holder's lease to now + TTL.
type Renew struct {
	Name, Owner string
	Token       uint64
	TTL         time.Duration
}

// Release frees the lock, passing it to the first live waiter.
type Release struct {
	Name, Owner string
	Token       uint64
}

const (
	opAcquire byte = 1
	opRenew   byte = 2
	opRelease byte = 3
)

func (Acquire) command() {}
func (Renew) command()   {}
func (Release) command() {}

// Durations travel as whole milliseconds (sub-millisecond parts are cut).

// Encode returns the command's binary form.
func (a Acquire) Encode() []byte {
	b := head(opAcquire, a.Name, a.Owner)
	b = binary.AppendVarint(b, a.TTL.Milliseconds())
	return binary.AppendVarint(b, a.Wait.Milliseconds())
}

// Encode returns the command's binary form.
func (r Renew) Encode() []byte {
	b := head(opRenew, r.Name, r.Owner)
	b = binary.AppendUvarint(b, r.Token)
	return binary.AppendVarint(b, r.TTL.Milliseconds())
}

// Encode returns the command's binary form.
func (r Release) Encode() []byte {
	return binary.AppendUvarint(head(opRelease, r.Name, r.Owner), r.Token)
}

func head(op byte, name, owner string) []byte {
	b := make([]byte, 0, 1+len(name)+len(owner)+4*binary.MaxVarintLen64)
	b = append(b, op)
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(len(owner)))
	return append(b, owner...)
}

// decoder reads fields in order and remembers the first failure.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrBadCommand, what)
	}
}

func (d *decoder) str(what string) string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > MaxNameLen || n > uint64(len(d.b)-k) {
		d.fail(what)
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}

func (d *decoder) uvarint(what string) uint64 {
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) millis(what string) time.Duration {
	v, k := binary.Varint(d.b)
	if k <= 0 || v < -int64(MaxTTL/time.Millisecond) || v > int64(MaxTTL/time.Millisecond) {
		d.fail(what)
		return 0
	}
	d.b = d.b[k:]
	return time.Duration(v) * time.Millisecond
}

// DecodeCommand parses a command's binary form; failures wrap
// ErrBadCommand. Values are validated when the command is applied.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadCommand)
	}
	d := &decoder{b: b[1:]}
	name, owner := d.str("name"), d.str("owner")
	var c Command
	switch b[0] {
	case opAcquire:
		c = Acquire{Name: name, Owner: owner, TTL: d.millis("ttl"), Wait: d.millis("wait")}
	case opRenew:
		c = Renew{Name: name, Owner: owner, Token: d.uvarint("token"), TTL: d.millis("ttl")}
	case opRelease:
		c = Release{Name: name, Owner: owner, Token: d.uvarint("token")}
	default:
		return nil, fmt.Errorf("%w: unknown operation %d", ErrBadCommand, b[0])
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadCommand, len(d.b))
	}
	return c, nil
}

// validName reports why s cannot be a lock name or owner, or nil.
func validName(what, s string) error {
	if s == "" || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q (want 1..%d bytes of UTF-8)", ErrInvalidName, what, s, MaxNameLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s %q holds a control character", ErrInvalidName, what, s)
		}
	}
	return nil
}

func validTTL(d time.Duration) error {
	if d < time.Millisecond || d > MaxTTL {
		return fmt.Errorf("%w: ttl %v (want 1ms..%v)", ErrInvalidDuration, d, MaxTTL)
	}
	return nil
}

func validWait(d time.Duration) error {
	if d < 0 || d > MaxWait {
		return fmt.Errorf("%w: wait %v (want 0..%v)", ErrInvalidDuration, d, MaxWait)
	}
	return nil
}
