package ledger

import (
	"bytes"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

// driver feeds a ledger commands as the runtime would: increasing index,
// leader time moving forward a millisecond per entry.
type driver struct {
	t     testing.TB
	l     *Ledger
	index uint64
	start time.Time
}

func newDriver(t testing.TB, l *Ledger) *driver {
	return &driver{t: t, l: l, start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (d *driver) next(data []byte) fsm.Command {
	d.index++
	return fsm.Command{Index: d.index, Term: 1, Time: d.start.Add(time.Duration(d.index) * time.Millisecond), Data: data}
}

// do applies cmd under request id req.
func (d *driver) do(req string, cmd Command) fsm.Result {
	return d.l.Apply(d.next(Request(req, cmd)))
}

// ok applies cmd and fails the test unless it succeeded.
func (d *driver) ok(req string, cmd Command) Receipt {
	d.t.Helper()
	r := d.do(req, cmd)
	if r.Err != nil {
		d.t.Fatalf("%s %+v: %v", req, cmd, r.Err)
	}
	return r.Value.(Receipt)
}

func snapshotBytes(t testing.TB, f fsm.FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer s.Release()
	var buf bytes.Buffer
	if err := s.Persist(&buf); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	return buf.Bytes()
}

func balance(t testing.TB, l *Ledger, id string) int64 {
	t.Helper()
	b, err := l.Balance(id)
	if err != nil {
		t.Fatalf("Balance(%q): %v", id, err)
	}
	return b
}
