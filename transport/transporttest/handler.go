package transporttest

import (
	"errors"
	"hash/crc32"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// waitFor is how long the suite waits for something that should happen
// at once on an idle machine. It only detects hangs: no test asserts that
// anything is fast.
const waitFor = 20 * time.Second

// SnapshotResult is what a Recorder saw of one inbound snapshot.
type SnapshotResult struct {
	Msg      wire.Message
	Size     int64
	Checksum uint32 // CRC-32C of the bytes read
	ReadErr  error
}

// Recorder is a transport.Handler that records what it receives, for
// tests. Its zero value is not usable; call NewRecorder.
type Recorder struct {
	// Msgs receives every inbound message, in arrival order.
	Msgs chan wire.Message
	// Unreachable receives every ReportUnreachable id.
	Unreachable chan wire.NodeID
	// Snapshots receives what each completed HandleSnapshot read.
	Snapshots chan SnapshotResult

	mu sync.Mutex
	// block, when not nil, holds HandleMessage until it is closed.
	block chan struct{}
	// snapErr, when not nil, is returned by HandleSnapshot after it has
	// read snapFailAfter bytes.
	snapErr       error
	snapFailAfter int64
	// snapGate, when not nil, holds HandleSnapshot before it reads.
	snapGate chan struct{}
}

// NewRecorder returns a Recorder with room for n buffered events of each
// kind; events beyond that block the transport (a test reads them).
func NewRecorder(n int) *Recorder {
	return &Recorder{
		Msgs:        make(chan wire.Message, n),
		Unreachable: make(chan wire.NodeID, n),
		Snapshots:   make(chan SnapshotResult, 16),
	}
}

// BlockMessages makes HandleMessage wait until the returned function is
// called.
func (r *Recorder) BlockMessages() (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.block = ch
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			r.block = nil
			r.mu.Unlock()
			close(ch)
		})
	}
}

// FailSnapshots makes HandleSnapshot return err after reading after bytes.
func (r *Recorder) FailSnapshots(err error, after int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snapErr, r.snapFailAfter = err, after
}

// HoldSnapshots makes HandleSnapshot wait before reading until the
// returned function is called.
func (r *Recorder) HoldSnapshots() (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.snapGate = ch
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// HandleMessage records m.
func (r *Recorder) HandleMessage(m wire.Message) {
	r.mu.Lock()
	block := r.block
	r.mu.Unlock()
	if block != nil {
		<-block
	}
	r.Msgs <- m
}

// ReportUnreachable records id, dropping it if nobody reads (reports are
// hints and may repeat).
func (r *Recorder) ReportUnreachable(id wire.NodeID) {
	select {
	case r.Unreachable <- id:
	default:
	}
}

// HandleSnapshot reads data to its end (or to the configured failure) and
// records its size and checksum.
func (r *Recorder) HandleSnapshot(m wire.Message, data io.Reader) error {
	r.mu.Lock()
	gate, failErr, failAfter := r.snapGate, r.snapErr, r.snapFailAfter
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	var src io.Reader = data
	if failErr != nil {
		src = io.LimitReader(data, failAfter)
	}
	n, err := io.Copy(h, src)
	if failErr != nil && err == nil {
		return failErr
	}
	res := SnapshotResult{Msg: m, Size: n, Checksum: h.Sum32(), ReadErr: err}
	select {
	case r.Snapshots <- res:
	default:
	}
	if err != nil {
		return err
	}
	return nil
}

// NextMsg returns the next message r received, failing t if none comes.
func (r *Recorder) NextMsg(t testing.TB) wire.Message {
	t.Helper()
	select {
	case m := <-r.Msgs:
		return m
	case <-time.After(waitFor):
		t.Fatalf("no message received within %v", waitFor)
		return wire.Message{}
	}
}

// WaitUnreachable waits until id is reported unreachable, calling poke
// (if not nil) every few milliseconds meanwhile; it fails t if that never
// happens.
func (r *Recorder) WaitUnreachable(t testing.TB, id wire.NodeID, poke func()) {
	t.Helper()
	deadline := time.After(waitFor)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if poke != nil {
			poke()
		}
		select {
		case got := <-r.Unreachable:
			if got == id {
				return
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s never reported unreachable", id)
		}
	}
}

var errInjected = errors.New("transporttest: injected disk full")
