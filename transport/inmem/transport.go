package inmem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/transport/internal/unreachable"
	"github.com/mandate-raft/mandate/wire"
)

// QueueSize is how many messages a transport holds for one peer before
// Send drops new ones (Raft retries what is lost).
const QueueSize = 4096

// snapshotChunk is how many bytes a snapshot stream hands over at a time.
const snapshotChunk = 64 << 10

// Transport is an in-memory transport.Transport created by a Network.
// Each peer it sends to has its own queue and goroutine, which calls the
// receiver's handler directly, so messages to one peer arrive in the order
// they were sent (unless Faults.Reorder says otherwise) and a slow peer
// never slows Send.
type Transport struct {
	net  *Network
	addr string

	mu      sync.Mutex
	handler transport.Handler
	closed  bool
	addrs   map[wire.NodeID]string
	peers   map[wire.NodeID]*peer
	// unreachable coalesces and delivers ReportUnreachable calls.
	unreachable *unreachable.Reporter

	// inMu guards inbound delivery: deliveries hold it for reading,
	// Close takes it for writing so that none starts after Close.
	inMu     sync.RWMutex
	inClosed bool
	// snapMu guards inbound, the streams being received, which Close
	// fails.
	snapMu  sync.Mutex
	inbound map[*io.PipeReader]struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTransport(n *Network, addr string) *Transport {
	ctx, cancel := context.WithCancel(context.Background())
	return &Transport{
		net:         n,
		addr:        addr,
		addrs:       map[wire.NodeID]string{},
		peers:       map[wire.NodeID]*peer{},
		unreachable: unreachable.New(64),
		inbound:     map[*io.PipeReader]struct{}{},
		ctx:         ctx,
		cancel:      cancel,
	}
}

// Start begins delivering inbound traffic to h.
func (t *Transport) Start(h transport.Handler) error {
	if h == nil {
		return errors.New("inmem: nil handler")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return transport.ErrClosed
	}
	if t.handler != nil {
		return errors.New("inmem: already started")
	}
	t.inMu.Lock()
	t.handler = h
	t.inMu.Unlock()
	t.wg.Add(1)
	go t.reportLoop(h)
	return nil
}

// Addr returns the address given to NewTransport.
func (t *Transport) Addr() string { return t.addr }

// SetPeer records the address of id.
func (t *Transport) SetPeer(id wire.NodeID, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addrs[id] = addr
}

// RemovePeer forgets id and drops the messages queued for it.
func (t *Transport) RemovePeer(id wire.NodeID) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	delete(t.addrs, id)
	t.mu.Unlock()
	if p != nil {
		close(p.done)
	}
}

// Send queues a copy of m for m.To; it never blocks.
func (t *Transport) Send(m wire.Message) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	addr, ok := t.addrs[m.To]
	if !ok {
		t.mu.Unlock()
		t.reportUnreachable(m.To)
		return
	}
	p := t.peers[m.To]
	if p == nil {
		p = newPeer(t, m.To)
		t.peers[m.To] = p
		t.wg.Add(1)
		go p.run()
	}
	t.mu.Unlock()
	select {
	case p.queue <- outbound{m: cloneMessage(m), addr: addr}:
	default:
		t.net.count(&t.net.stats.Overflowed)
	}
}

// reportUnreachable queues ReportUnreachable(id) for the handler without
// blocking the caller (which may be the node's own event loop).
func (t *Transport) reportUnreachable(id wire.NodeID) {
	t.mu.Lock()
	ready := !t.closed && t.handler != nil
	t.mu.Unlock()
	if ready {
		t.unreachable.Report(id)
	}
}

func (t *Transport) reportLoop(h transport.Handler) {
	defer t.wg.Done()
	t.unreachable.Run(t.ctx, h.ReportUnreachable)
}

// deliver hands m to t's handler unless t is closed or not started. It
// reports whether the handler was called.
func (t *Transport) deliver(m wire.Message) bool {
	t.inMu.RLock()
	defer t.inMu.RUnlock()
	if t.inClosed || t.handler == nil {
		return false
	}
	t.handler.HandleMessage(m)
	return true
}

// SendSnapshot streams data to m.To's HandleSnapshot through a pipe, one
// chunk at a time, and returns the handler's verdict. A cut or partition
// of the link mid-stream aborts the transfer with ErrLinkDown.
func (t *Transport) SendSnapshot(ctx context.Context, m wire.Message, data io.ReadSeeker) error {
	t.mu.Lock()
	closed := t.closed
	addr, known := t.addrs[m.To]
	t.mu.Unlock()
	if closed {
		return transport.ErrClosed
	}
	if !known {
		t.reportUnreachable(m.To)
		return fmt.Errorf("inmem: snapshot to %s: %w", m.To, transport.ErrUnknownPeer)
	}
	target, up := t.net.linkUp(t.addr, addr)
	if !up {
		t.reportUnreachable(m.To)
		return fmt.Errorf("inmem: snapshot to %s at %s: %w", m.To, addr, ErrLinkDown)
	}
	if _, err := data.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("inmem: snapshot to %s: rewind data: %w", m.To, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()

	pr, pw := io.Pipe()
	result := make(chan error, 1)
	if !target.receiveSnapshot(cloneMessage(m), pr, result) {
		return fmt.Errorf("inmem: snapshot to %s at %s: %w", m.To, addr, ErrLinkDown)
	}
	// A cancelled context unblocks a Write the receiver is not reading.
	stopAbort := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	defer stopAbort()

	// The stream's own failure reaches the receiver through the pipe;
	// the receiver's verdict is what the sender reports.
	_ = t.stream(ctx, addr, pw, data)
	select {
	case err := <-result:
		if err != nil {
			return fmt.Errorf("inmem: snapshot to %s failed: %w", m.To, err)
		}
		return nil
	case <-ctx.Done():
		if t.ctx.Err() != nil {
			return transport.ErrClosed
		}
		return fmt.Errorf("inmem: snapshot to %s: %w", m.To, ctx.Err())
	}
}

// stream copies data into pw chunk by chunk, checking the link between
// chunks, and closes pw with the outcome.
func (t *Transport) stream(ctx context.Context, addr string, pw *io.PipeWriter, data io.Reader) error {
	buf := make([]byte, snapshotChunk)
	for {
		if err := ctx.Err(); err != nil {
			pw.CloseWithError(err)
			return err
		}
		if _, up := t.net.linkUp(t.addr, addr); !up {
			pw.CloseWithError(ErrLinkDown)
			return ErrLinkDown
		}
		n, rerr := data.Read(buf)
		if n > 0 {
			if _, werr := pw.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return pw.Close()
		}
		if rerr != nil {
			err := fmt.Errorf("inmem: read snapshot data: %w", rerr)
			pw.CloseWithError(err)
			return err
		}
	}
}

// receiveSnapshot runs the handler on pr in a goroutine of t and sends its
// verdict on result. It returns false if t is closed or not started.
func (t *Transport) receiveSnapshot(m wire.Message, pr *io.PipeReader, result chan<- error) bool {
	t.inMu.RLock()
	defer t.inMu.RUnlock()
	if t.inClosed || t.handler == nil {
		return false
	}
	h := t.handler
	t.snapMu.Lock()
	t.inbound[pr] = struct{}{}
	t.snapMu.Unlock()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := h.HandleSnapshot(m, pr)
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(errSnapshotDone)
		}
		t.snapMu.Lock()
		delete(t.inbound, pr)
		t.snapMu.Unlock()
		result <- err
	}()
	return true
}

// errSnapshotDone ends the sender's writes once the receiver's handler has
// returned, whether or not it read everything.
var errSnapshotDone = errors.New("inmem: receiver finished with the snapshot")

// Close stops the transport: queued messages are dropped, inbound
// deliveries end, streams in progress fail, and every goroutine has ended
// when it returns. Others then find its address unreachable.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	peers := t.peers
	t.peers = map[wire.NodeID]*peer{}
	t.mu.Unlock()

	t.net.remove(t)
	t.cancel()
	for _, p := range peers {
		close(p.done)
	}
	t.inMu.Lock()
	t.inClosed = true
	t.inMu.Unlock()
	t.snapMu.Lock()
	for pr := range t.inbound {
		pr.CloseWithError(transport.ErrClosed)
	}
	t.snapMu.Unlock()
	t.wg.Wait()
	return nil
}

var _ transport.Transport = (*Transport)(nil)
