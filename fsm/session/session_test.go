package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

func TestRetryAfterLeaderCrashIsAppliedOnce(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{Codec: NewMsgpackCodec(errBoom)})
	lg := newLog()

	// The client's command commits at index 1, but the leader crashes
	// before replying; the client retries through the new leader, and the
	// same envelope commits again at index 2.
	first := f.Apply(lg.at(0, env("c1", 1, 1, "deposit")))
	retry := f.Apply(lg.at(time.Second, env("c1", 1, 1, "deposit")))

	if got := inner.count("deposit"); got != 1 {
		t.Fatalf("inner applied the command %d times, want 1", got)
	}
	if first.Err != nil || retry.Err != nil {
		t.Fatalf("unexpected errors: first %v, retry %v", first.Err, retry.Err)
	}
	if first.Value != uint64(1) {
		t.Fatalf("first result %v, want 1", first.Value)
	}
	if number(retry.Value) != 1 {
		t.Fatalf("retry got %v (%T), want the remembered result 1", retry.Value, retry.Value)
	}
}

func TestRetryKeepsTheErrorVerdict(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{Codec: NewMsgpackCodec(errBoom)})
	lg := newLog()
	first := f.Apply(lg.at(0, env("c1", 1, 1, "fail")))
	retry := f.Apply(lg.at(0, env("c1", 1, 1, "fail")))
	if !errors.Is(first.Err, errBoom) || !errors.Is(retry.Err, errBoom) {
		t.Fatalf("want errBoom twice, got %v and %v", first.Err, retry.Err)
	}
	if retry.Err.Error() != first.Err.Error() {
		t.Fatalf("retry message %q, want %q", retry.Err, first.Err)
	}
	if inner.count("fail") != 1 {
		t.Fatalf("applied %d times, want 1", inner.count("fail"))
	}
}

func TestOutstandingCommandsAndAcknowledgement(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{})
	lg := newLog()
	// Three commands in flight at once: none acknowledged.
	for seq := uint64(1); seq <= 3; seq++ {
		if r := f.Apply(lg.at(0, env("c1", seq, 1, "op"))); r.Err != nil {
			t.Fatalf("seq %d: %v", seq, r.Err)
		}
	}
	// Retries of any of them are answered from memory.
	for seq := uint64(1); seq <= 3; seq++ {
		r := f.Apply(lg.at(0, env("c1", seq, 1, "op")))
		if r.Err != nil || number(r.Value) != seq {
			t.Fatalf("retry of seq %d: got %v, %v; want %d", seq, r.Value, r.Err, seq)
		}
	}
	// Sequence 4 acknowledges 1 and 2: their results are dropped.
	f.Apply(lg.at(0, env("c1", 4, 3, "op")))
	if got := len(f.clients.clients["c1"].results); got != 2 {
		t.Fatalf("session remembers %d results, want 2 (seq 3 and 4)", got)
	}
	r := f.Apply(lg.at(0, env("c1", 2, 1, "op")))
	if !errors.Is(r.Err, ErrStaleSequence) {
		t.Fatalf("retry of an acknowledged sequence: got %v, want ErrStaleSequence", r.Err)
	}
	// A lower Ack never lowers the floor again.
	if f.clients.clients["c1"].floor != 3 {
		t.Fatalf("floor %d, want 3", f.clients.clients["c1"].floor)
	}
	if n := inner.count("op"); n != 4 {
		t.Fatalf("applied %d commands, want 4", n)
	}
}

func TestUnknownClientWithAcknowledgementsIsExpired(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{})
	r := f.Apply(newLog().at(0, env("ghost", 7, 5, "op")))
	if !errors.Is(r.Err, ErrSessionExpired) {
		t.Fatalf("got %v, want ErrSessionExpired", r.Err)
	}
	if len(inner.applied) != 0 || f.Sessions() != 0 {
		t.Fatalf("refused command left traces: applied %v, sessions %d", inner.applied, f.Sessions())
	}
}

func TestExpiryFollowsLogTimeOnly(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{TTL: time.Minute})
	lg := newLog()
	f.Apply(lg.at(0, env("idle", 1, 1, "a")))
	f.Apply(lg.at(30*time.Second, env("busy", 1, 1, "b")))
	// Exactly TTL after its last command the session is still alive.
	f.Apply(lg.at(time.Minute, env("busy", 2, 2, "c")))
	if f.Sessions() != 2 {
		t.Fatalf("sessions %d, want 2", f.Sessions())
	}
	// One nanosecond later it is gone; the other is not.
	f.Apply(lg.at(time.Minute+1, []byte("tick")))
	if _, ok := f.clients.clients["idle"]; ok {
		t.Fatal("idle session survived past its TTL")
	}
	if _, ok := f.clients.clients["busy"]; !ok {
		t.Fatal("busy session expired early")
	}
	// A retry of the idle client's unanswered command would be applied
	// again (documented); one that acknowledged a reply is refused.
	r := f.Apply(lg.at(time.Minute+2, env("idle", 2, 2, "a2")))
	if !errors.Is(r.Err, ErrSessionExpired) {
		t.Fatalf("got %v, want ErrSessionExpired", r.Err)
	}
	// A leader with a slow clock does not revive anything: time is the
	// largest seen.
	f.Apply(lg.at(0, []byte("tick")))
	if !f.Now().Equal(lg.start.Add(time.Minute + 2)) {
		t.Fatalf("session clock went backwards to %v", f.Now())
	}
}

func TestExpiryIsIdenticalOnReplicas(t *testing.T) {
	// Two replicas fed the same log at different wall-clock moments (one
	// of them after a pause) expire the same sessions at the same index.
	lg := newLog()
	var cmds []fsm.Command
	for i := 0; i < 200; i++ {
		client := string(rune('a' + i%7))
		cmds = append(cmds, lg.at(time.Duration(i)*7*time.Second, env(client, uint64(i/7+1), uint64(i/7+1), "x")))
	}
	a := New(&recorder{}, Options{TTL: 20 * time.Second})
	b := New(&recorder{}, Options{TTL: 20 * time.Second})
	for i, c := range cmds {
		ra := a.Apply(c)
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // the wall clock moves; nothing may depend on it
		}
		rb := b.Apply(c)
		if (ra.Err == nil) != (rb.Err == nil) || ra.Value != rb.Value {
			t.Fatalf("index %d: replicas disagree: %+v vs %+v", c.Index, ra, rb)
		}
		if a.Sessions() != b.Sessions() {
			t.Fatalf("index %d: %d vs %d sessions", c.Index, a.Sessions(), b.Sessions())
		}
	}
	if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, b)) {
		t.Fatal("replicas' snapshots differ")
	}
	if a.Sessions() == 7 {
		t.Fatal("no session ever expired: the test exercised nothing")
	}
}

func TestMaxSessionsEvictsLeastRecentlySeen(t *testing.T) {
	f := New(&recorder{}, Options{MaxSessions: 2})
	lg := newLog()
	f.Apply(lg.at(0, env("a", 1, 1, "x")))
	f.Apply(lg.at(1, env("b", 1, 1, "x")))
	f.Apply(lg.at(2, env("a", 2, 2, "x"))) // a is now the most recent
	f.Apply(lg.at(3, env("c", 1, 1, "x")))
	if _, ok := f.clients.clients["b"]; ok || f.Sessions() != 2 {
		t.Fatalf("want b evicted and 2 sessions, have %d", f.Sessions())
	}
}

func TestMaxPendingRefusesWithoutApplying(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{MaxPending: 2})
	lg := newLog()
	f.Apply(lg.at(0, env("c", 1, 1, "x")))
	f.Apply(lg.at(0, env("c", 2, 1, "x")))
	r := f.Apply(lg.at(0, env("c", 3, 1, "x")))
	if !errors.Is(r.Err, ErrTooManyPending) || len(inner.applied) != 2 {
		t.Fatalf("got %v with %d applied, want ErrTooManyPending and 2", r.Err, len(inner.applied))
	}
	// Acknowledging makes room.
	if r := f.Apply(lg.at(0, env("c", 3, 3, "x"))); r.Err != nil {
		t.Fatalf("after ack: %v", r.Err)
	}
}

func TestCommandsWithoutEnvelopePassThrough(t *testing.T) {
	inner := &recorder{}
	f := New(inner, Options{})
	f.Apply(newLog().at(0, []byte("raw")))
	f.Apply(newLog().at(0, []byte("raw")))
	if inner.count("raw") != 2 {
		t.Fatalf("raw command applied %d times, want 2 (no dedup without a session)", inner.count("raw"))
	}

	strict := New(&recorder{}, Options{RequireEnvelope: true})
	if r := strict.Apply(newLog().at(0, []byte("raw"))); !errors.Is(r.Err, ErrNoEnvelope) {
		t.Fatalf("got %v, want ErrNoEnvelope", r.Err)
	}
}

func TestGarbageEnvelopesAreRefused(t *testing.T) {
	good := env("c", 2, 1, "p")
	cases := map[string][]byte{
		"prefix only":       magic[:],
		"unknown version":   append(append([]byte{}, magic[:]...), 9),
		"truncated id":      good[:7],
		"empty id":          Envelope{Client: "", Seq: 1, Ack: 1}.Encode(),
		"id too long":       Envelope{Client: string(make([]byte, MaxClientIDLen+1)), Seq: 1}.Encode(),
		"zero sequence":     Envelope{Client: "c", Seq: 0}.Encode(),
		"ack above seq":     Envelope{Client: "c", Seq: 2, Ack: 3}.Encode(),
		"truncated seq":     good[:5+1+1],
		"overlong varint":   append(append([]byte{}, magic[:]...), 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"id length too big": append(append([]byte{}, magic[:]...), 1, 0x80, 0x01, 'x'),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			inner := &recorder{}
			f := New(inner, Options{})
			r := f.Apply(newLog().at(0, data))
			if !errors.Is(r.Err, ErrBadEnvelope) {
				t.Fatalf("got %v, want ErrBadEnvelope", r.Err)
			}
			if len(inner.applied) != 0 || f.Sessions() != 0 {
				t.Fatal("a refused envelope reached the inner FSM or opened a session")
			}
		})
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	in := Envelope{Client: "client-42", Seq: 1 << 40, Ack: 17, Payload: []byte{0, 1, 2}}
	out, err := DecodeEnvelope(in.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if out.Client != in.Client || out.Seq != in.Seq || out.Ack != in.Ack || !bytes.Equal(out.Payload, in.Payload) {
		t.Fatalf("round trip changed %+v into %+v", in, out)
	}
	if IsEnvelope([]byte{0x82, 0xa1}) {
		t.Fatal("a msgpack map was taken for an envelope")
	}
}

func TestClientAcknowledgesLowestOutstanding(t *testing.T) {
	c := NewClient("c")
	e1 := c.Wrap([]byte("a"))
	e2 := c.Wrap([]byte("b"))
	if e1.Seq != 1 || e1.Ack != 1 || e2.Seq != 2 || e2.Ack != 1 {
		t.Fatalf("got %+v %+v", e1, e2)
	}
	c.Done(2)
	if e := c.Wrap(nil); e.Ack != 1 {
		t.Fatalf("ack %d while seq 1 is outstanding, want 1", e.Ack)
	}
	c.Done(1)
	c.Done(3)
	if e := c.Wrap(nil); e.Seq != 4 || e.Ack != 4 {
		t.Fatalf("got %+v, want seq 4 ack 4", e)
	}
}
