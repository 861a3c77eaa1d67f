package tcp

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// maxBatch bounds how many queued messages one flush carries, so a busy
// lane still flushes regularly.
const maxBatch = 256

// writeBufSize is the write buffer of a message lane.
const writeBufSize = 64 << 10

// outLane is one long-lived connection to a peer and the queue that
// feeds it. One goroutine owns the connection: it dials lazily, writes
// every queued message without waiting for answers (appends are
// pipelined; the core bounds how many are in flight), flushes once per
// batch, and redials with capped exponential backoff after a failure.
// A connection the peer closed (it restarted, say) is dropped as soon as
// that is seen, and a batch whose write fails is sent once more on a new
// connection, so that a restarted peer loses no message it could take:
// not every message is retried by Raft (a forwarded proposal is not).
type outLane struct {
	t     *Transport
	id    wire.NodeID
	addr  string
	lane  lane
	queue chan wire.Message

	ctx      context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once

	// deadlineSet is when the connection's write deadline was last moved;
	// only the lane's goroutine uses it.
	deadlineSet time.Time
	// batch holds the messages of the batch being written, to resend
	// them if the write fails; lastFlush is when a batch last went out.
	// Only the lane's goroutine uses them.
	batch     []wire.Message
	lastFlush time.Time
	// heard is set when the peer connects to this node: it is up, so a
	// dial backoff towards it ends at the next message.
	heard atomic.Bool
}

func (t *Transport) newOutLane(id wire.NodeID, addr string, l lane) *outLane {
	ctx, cancel := context.WithCancel(t.ctx)
	o := &outLane{t: t, id: id, addr: addr, lane: l, queue: make(chan wire.Message, t.cfg.QueueSize), ctx: ctx, cancel: cancel}
	t.wg.Add(1)
	go o.run()
	return o
}

// enqueue adds m without blocking; a full queue drops it.
func (o *outLane) enqueue(m wire.Message) {
	select {
	case o.queue <- m:
	default:
		o.t.stats.dropped.Add(1)
		o.t.log.Trace("queue full, message dropped", "peer", o.id, "lane", o.lane, "type", m.Type)
	}
}

// stop ends the lane's goroutine and closes its connection, without
// waiting (Close waits for all goroutines).
func (o *outLane) stop() { o.stopOnce.Do(o.cancel) }

func (o *outLane) run() {
	defer o.t.wg.Done()
	var (
		conn    net.Conn
		watch   *connWatch
		gone    <-chan struct{} // watch.gone while connected
		bw      *bufio.Writer
		enc     = newMsgEncoder()
		backoff time.Duration
		retryAt time.Time
	)
	closeConn := func() {
		if conn != nil {
			conn.Close()
			conn, bw, watch, gone = nil, nil, nil, nil
		}
	}
	defer closeConn()
	// connect dials the peer; on failure it sets the backoff and reports
	// the peer unreachable.
	connect := func() bool {
		c, err := o.t.dial(o.ctx, o.addr, o.id, o.lane)
		if err != nil {
			if o.ctx.Err() != nil {
				return false
			}
			o.t.stats.dialFailures.Add(1)
			backoff = nextBackoff(backoff, o.t.cfg.BackoffMin, o.t.cfg.BackoffMax)
			retryAt = time.Now().Add(backoff)
			o.t.log.Debug("cannot reach peer", "peer", o.id, "addr", o.addr, "lane", o.lane, "retry-in", backoff, "error", err)
			o.t.reportUnreachable(o.id)
			return false
		}
		backoff = 0
		conn, bw = c, bufio.NewWriterSize(c, writeBufSize)
		watch = o.t.watchConn(c)
		gone = watch.gone
		o.deadlineSet = time.Time{}
		return true
	}
	// A connection idle for half the peer's read timeout is closed here
	// before the peer closes it under a message in flight.
	idleAfter := o.t.cfg.ReadTimeout / 2
	idle := time.NewTimer(idleAfter)
	defer idle.Stop()
	for {
		var m wire.Message
		select {
		case <-o.ctx.Done():
			return
		case <-idle.C:
			closeConn()
			continue
		case <-gone:
			o.t.log.Debug("peer closed connection", "peer", o.id, "addr", o.addr, "lane", o.lane)
			closeConn()
			continue
		case m = <-o.queue:
		}
		if conn != nil && watch.dead(time.Since(o.lastFlush) >= peekAfterIdle) {
			o.t.log.Debug("peer closed connection", "peer", o.id, "addr", o.addr, "lane", o.lane)
			closeConn()
		}
		if conn == nil {
			if o.heard.Swap(false) {
				backoff, retryAt = 0, time.Time{}
			}
			if time.Now().Before(retryAt) {
				// Backing off: what cannot be sent is dropped (Raft
				// retries) rather than delivered stale later.
				o.t.stats.dropped.Add(1)
				o.t.reportUnreachable(o.id)
				continue
			}
			if !connect() {
				if o.ctx.Err() != nil {
					return
				}
				o.t.stats.dropped.Add(1)
				continue
			}
		}
		err := o.writeBatch(conn, bw, enc, m)
		if err != nil {
			if o.ctx.Err() != nil {
				return
			}
			o.t.log.Debug("connection to peer lost, redialing to resend", "peer", o.id, "addr", o.addr, "lane", o.lane, "messages", len(o.batch), "error", err)
			closeConn()
			// Part of the batch may have reached the old connection's
			// buffers and died there: it is all sent again (Raft takes
			// duplicates), once.
			if connect() {
				err = o.resend(conn, bw, enc)
			}
		}
		o.forgetBatch()
		if err != nil {
			if o.ctx.Err() != nil {
				return
			}
			if conn != nil {
				o.t.log.Debug("connection to peer lost", "peer", o.id, "addr", o.addr, "lane", o.lane, "error", err)
				closeConn()
				o.t.reportUnreachable(o.id)
			}
			continue
		}
		o.lastFlush = time.Now()
		idle.Reset(idleAfter)
	}
}

// forgetBatch empties the batch without keeping its messages' entries
// reachable.
func (o *outLane) forgetBatch() {
	clear(o.batch)
	o.batch = o.batch[:0]
}

// resend writes the messages of the batch that failed again, then
// flushes.
func (o *outLane) resend(conn net.Conn, bw *bufio.Writer, enc *msgEncoder) error {
	for i := range o.batch {
		if err := o.write(conn, bw, enc, &o.batch[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeBatch writes m and whatever else is queued (up to maxBatch), then
// flushes once. The messages it took are in o.batch.
func (o *outLane) writeBatch(conn net.Conn, bw *bufio.Writer, enc *msgEncoder, m wire.Message) error {
	for i := 0; ; i++ {
		o.batch = append(o.batch, m)
		if err := o.write(conn, bw, enc, &m); err != nil {
			return err
		}
		if i+1 >= maxBatch {
			break
		}
		select {
		case m = <-o.queue:
			continue
		default:
		}
		break
	}
	return bw.Flush()
}

// write writes m into bw, moving conn's write deadline when due.
func (o *outLane) write(conn net.Conn, bw *bufio.Writer, enc *msgEncoder, m *wire.Message) error {
	// The deadline bounds a stall, not a batch: a slow but moving peer
	// keeps its connection. Moving it costs a timer update, so it moves
	// once a quarter timeout has passed, not per frame.
	if now := time.Now(); now.Sub(o.deadlineSet) > o.t.cfg.WriteTimeout/4 {
		if err := conn.SetWriteDeadline(now.Add(o.t.cfg.WriteTimeout)); err != nil {
			return err
		}
		o.deadlineSet = now
	}
	return o.writeOne(bw, enc, m)
}

func (o *outLane) writeOne(bw *bufio.Writer, enc *msgEncoder, m *wire.Message) error {
	if m.From != o.t.cfg.ID {
		// The receiver would close the connection over it, losing what
		// follows: refuse it here instead.
		o.t.log.Error("message not from this node, dropped", "peer", o.id, "type", m.Type, "from", m.From, "node-id", o.t.cfg.ID)
		o.t.stats.dropped.Add(1)
		return nil
	}
	payload, err := enc.encode(m)
	if err != nil {
		o.t.log.Error("cannot encode message, dropped", "peer", o.id, "type", m.Type, "error", err)
		o.t.stats.dropped.Add(1)
		return nil
	}
	if len(payload) > o.t.cfg.MaxFrameSize {
		o.t.log.Error("message larger than the frame limit, dropped", "peer", o.id, "type", m.Type, "size", len(payload), "limit", o.t.cfg.MaxFrameSize)
		o.t.stats.dropped.Add(1)
		return nil
	}
	if err := writeFrame(bw, payload); err != nil {
		return err
	}
	o.t.stats.sent.Add(1)
	return nil
}

// nextBackoff doubles cur within [lo, hi].
func nextBackoff(cur, lo, hi time.Duration) time.Duration {
	if cur < lo {
		return lo
	}
	cur *= 2
	if cur > hi {
		return hi
	}
	return cur
}
