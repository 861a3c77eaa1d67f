package session

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

var errBoom = errors.New("boom")

// recorder is an inner FSM that remembers every payload it applied, in
// order. Its result is the number of commands applied so far; the payload
// "fail" yields an error wrapping errBoom.
type recorder struct {
	applied []string
	batches int
}

func (r *recorder) Apply(c fsm.Command) fsm.Result {
	r.applied = append(r.applied, string(c.Data))
	if string(c.Data) == "fail" {
		return fsm.Result{Err: fmt.Errorf("applying %q: %w", c.Data, errBoom)}
	}
	return fsm.Result{Value: uint64(len(r.applied))}
}

func (r *recorder) Snapshot() (fsm.Snapshot, error) {
	return lines(append([]string(nil), r.applied...)), nil
}

func (r *recorder) Restore(rd io.Reader) error {
	r.applied = nil
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		r.applied = append(r.applied, sc.Text())
	}
	return sc.Err()
}

// count returns how often payload was applied.
func (r *recorder) count(payload string) int {
	n := 0
	for _, p := range r.applied {
		if p == payload {
			n++
		}
	}
	return n
}

type lines []string

func (l lines) Persist(w io.Writer) error {
	_, err := io.WriteString(w, strings.Join(l, "\n"))
	return err
}
func (l lines) Release() {}

// batchRecorder is a recorder that also implements fsm.BatchFSM.
type batchRecorder struct{ recorder }

func (b *batchRecorder) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	b.batches++
	out := make([]fsm.Result, len(cmds))
	for i, c := range cmds {
		out[i] = b.Apply(c)
	}
	return out
}

// log builds commands with increasing indexes and the given leader times.
type log struct {
	index uint64
	start time.Time
}

func newLog() *log { return &log{start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// at returns a command at offset d from the log's start time.
func (l *log) at(d time.Duration, data []byte) fsm.Command {
	l.index++
	return fsm.Command{Index: l.index, Term: 1, Time: l.start.Add(d), Data: data}
}

func env(client string, seq, ack uint64, payload string) []byte {
	return Envelope{Client: client, Seq: seq, Ack: ack, Payload: []byte(payload)}.Encode()
}

func snapshotBytes(t *testing.T, f fsm.FSM) []byte {
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

// number reads a counter result, which MsgpackCodec returns as int64 or
// uint64 after a replay.
func number(v any) uint64 {
	switch n := v.(type) {
	case uint64:
		return n
	case int64:
		return uint64(n)
	}
	return 1<<64 - 1
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
