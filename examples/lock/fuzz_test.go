package lock

import (
	"bytes"
	"testing"
	"time"
)

// FuzzApply: any command bytes yield a result, never a panic.
func FuzzApply(f *testing.F) {
	f.Add(Acquire{Name: "n", Owner: "o", TTL: time.Second, Wait: time.Second}.Encode())
	f.Add(Renew{Name: "n", Owner: "o", Token: 1, TTL: time.Second}.Encode())
	f.Add(Release{Name: "n", Owner: "o", Token: 1}.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		d := newDriver(t)
		d.ok(0, Acquire{Name: "n", Owner: "o", TTL: time.Second})
		d.l.Apply(d.cmd(time.Millisecond, data))
		d.l.Apply(d.cmd(time.Hour, data))
	})
}

// FuzzRestore: any bytes restore cleanly or fail with an error.
func FuzzRestore(f *testing.F) {
	d := newDriver(f)
	d.ok(0, Acquire{Name: "n", Owner: "o", TTL: time.Second})
	d.ok(0, Acquire{Name: "n", Owner: "p", TTL: time.Second, Wait: time.Second})
	f.Add(snapshotBytes(f, d.l))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := New(Options{})
		if l.Restore(bytes.NewReader(data)) == nil {
			l.Apply(d.cmd(time.Hour, Acquire{Name: "n", Owner: "q", TTL: time.Second}.Encode()))
		}
	})
}
