package lock

import (
	"bytes"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// driver feeds commands with increasing indexes at leader times the test
// chooses.
type driver struct {
	t     testing.TB
	l     *Lock
	index uint64
}

func newDriver(t testing.TB) *driver { return &driver{t: t, l: New(Options{})} }

func (d *driver) cmd(at time.Duration, data []byte) fsm.Command {
	d.index++
	return fsm.Command{Index: d.index, Term: 1, Time: t0.Add(at), Data: data}
}

func (d *driver) do(at time.Duration, c Command) fsm.Result {
	return d.l.Apply(d.cmd(at, c.Encode()))
}

func (d *driver) ok(at time.Duration, c Command) Lease {
	d.t.Helper()
	r := d.do(at, c)
	if r.Err != nil {
		d.t.Fatalf("%+v at %v: %v", c, at, r.Err)
	}
	return r.Value.(Lease)
}

func (d *driver) show(name string) Lease {
	d.t.Helper()
	l, err := d.l.Show(name)
	if err != nil {
		d.t.Fatal(err)
	}
	return l
}

func snapshotBytes(t testing.TB, f fsm.FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	var buf bytes.Buffer
	if err := s.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
