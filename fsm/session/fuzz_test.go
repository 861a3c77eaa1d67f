package session

import (
	"testing"
)

// FuzzApply feeds arbitrary bytes as commands: the session layer must
// answer every one without panicking, and refuse malformed envelopes
// without touching the inner FSM.
func FuzzApply(f *testing.F) {
	f.Add(env("c", 1, 1, "x"))
	f.Add(env("c", 3, 2, ""))
	f.Add([]byte("plain"))
	f.Add(magic[:])
	f.Fuzz(func(t *testing.T, data []byte) {
		inner := &recorder{}
		s := New(inner, Options{})
		lg := newLog()
		s.Apply(lg.at(0, data))
		s.Apply(lg.at(0, data))
		if IsEnvelope(data) {
			if _, err := DecodeEnvelope(data); err != nil && len(inner.applied) != 0 {
				t.Fatal("malformed envelope was applied")
			}
			if len(inner.applied) > 1 {
				t.Fatal("an envelope was applied twice")
			}
		}
	})
}

// FuzzRestore feeds arbitrary snapshots: Restore must fail cleanly.
func FuzzRestore(f *testing.F) {
	f.Add([]byte{0xc1, 'M', 'S', 'S', 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = New(&recorder{}, Options{}).Restore(bytesReader(data))
	})
}
