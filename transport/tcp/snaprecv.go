package tcp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/wire"
)

// errAbandoned ends a handler's read when its sender did not resume a cut
// stream within ResumeTimeout.
var errAbandoned = errors.New("tcp: snapshot stream cut and not resumed")

// errHandlerDone ends the writes to a handler that returned early.
var errHandlerDone = errors.New("tcp: snapshot handler returned")

// inTransfer is one inbound snapshot stream. It outlives the connection
// that carries it, so that a resumed connection continues where the
// last one stopped.
type inTransfer struct {
	key   transferKey
	total int64
	pw    *io.PipeWriter

	// Guarded by snapReceiver.mu.
	attached bool
	offset   int64 // bytes handed to the handler: the last good offset
	expiry   *time.Timer

	done chan struct{} // closed when the handler has returned
	err  error         // the handler's verdict, set before done closes
}

// snapReceiver keeps the inbound snapshot streams of a transport.
type snapReceiver struct {
	t  *Transport
	mu sync.Mutex
	m  map[transferKey]*inTransfer
	// closed refuses new streams once the transport closes.
	closed bool
}

func newSnapReceiver(t *Transport) *snapReceiver {
	return &snapReceiver{t: t, m: map[transferKey]*inTransfer{}}
}

// attach returns the stream for key, starting the handler for a new one.
// It fails if the stream is already attached to another connection.
func (r *snapReceiver) attach(key transferKey, total int64, m wire.Message) (*inTransfer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, transport.ErrClosed
	}
	if tr, ok := r.m[key]; ok {
		if tr.attached {
			return nil, fmt.Errorf("%w: stream %x already attached", ErrBadSnapshotFrame, key.id)
		}
		if tr.total != total {
			return nil, fmt.Errorf("%w: resumed stream %x changed size", ErrBadSnapshotFrame, key.id)
		}
		if tr.expiry != nil {
			tr.expiry.Stop()
			tr.expiry = nil
		}
		tr.attached = true
		return tr, nil
	}
	pr, pw := io.Pipe()
	tr := &inTransfer{key: key, total: total, pw: pw, attached: true, done: make(chan struct{})}
	r.m[key] = tr
	r.t.mu.Lock()
	h := r.t.handler
	r.t.mu.Unlock()
	r.t.wg.Add(1)
	go func() {
		defer r.t.wg.Done()
		err := h.HandleSnapshot(m, pr)
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(errHandlerDone)
		}
		tr.err = err
		close(tr.done)
	}()
	return tr, nil
}

// detach releases tr from its connection. An unfinished stream waits
// ResumeTimeout for its sender; a finished one keeps its verdict as long,
// for a sender that lost the connection before reading it.
func (r *snapReceiver) detach(tr *inTransfer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr.attached = false
	if r.closed {
		return
	}
	tr.expiry = time.AfterFunc(r.t.cfg.ResumeTimeout, func() {
		r.mu.Lock()
		if tr.attached || r.m[tr.key] != tr {
			r.mu.Unlock()
			return
		}
		delete(r.m, tr.key)
		r.mu.Unlock()
		tr.pw.CloseWithError(errAbandoned)
	})
}

// closeAll fails every stream; their handlers see transport.ErrClosed.
func (r *snapReceiver) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for k, tr := range r.m {
		if tr.expiry != nil {
			tr.expiry.Stop()
		}
		tr.pw.CloseWithError(transport.ErrClosed)
		delete(r.m, k)
	}
}

func (r *snapReceiver) offset(tr *inTransfer) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return tr.offset
}

func (r *snapReceiver) advance(tr *inTransfer, n int) {
	r.mu.Lock()
	tr.offset += int64(n)
	r.mu.Unlock()
}

func finished(tr *inTransfer) bool {
	select {
	case <-tr.done:
		return true
	default:
		return false
	}
}

// serve runs the receiving side of one snapshot connection.
func (r *snapReceiver) serve(conn net.Conn, br *bufio.Reader, from wire.NodeID) error {
	t := r.t
	fr := frameReader{r: br, max: t.cfg.MaxFrameSize}
	bw := bufio.NewWriterSize(conn, 512)
	send := func(p []byte) error {
		if err := conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout)); err != nil {
			return err
		}
		if err := writeFrame(bw, p); err != nil {
			return err
		}
		return bw.Flush()
	}
	if err := conn.SetReadDeadline(time.Now().Add(t.cfg.ReadTimeout)); err != nil {
		return err
	}
	p, err := fr.next()
	if err != nil {
		return err
	}
	id, total, m, err := decodeSnapHeader(p, newMsgDecoder())
	if err != nil {
		return err
	}
	if m.From != from || m.To != t.cfg.ID {
		return fmt.Errorf("%w: snapshot %s->%s on a connection from %q to %q", ErrBadSnapshotFrame, m.From, m.To, from, t.cfg.ID)
	}
	tr, err := r.attach(transferKey{from: from, id: id}, total, m)
	if err != nil {
		return err
	}
	defer r.detach(tr)
	if finished(tr) {
		return send(encodeVerdictFrame(tr.err))
	}
	off := r.offset(tr)
	if off > 0 {
		t.log.Info("resuming snapshot stream", "peer", from, "index", m.Snapshot.Index, "offset", off, "size", total)
	}
	if err := send(encodeOffsetFrame(snapResume, off)); err != nil {
		return err
	}
	for {
		if err := conn.SetReadDeadline(time.Now().Add(t.cfg.ReadTimeout)); err != nil {
			return err
		}
		p, err := fr.next()
		if err != nil {
			return err
		}
		switch p[0] {
		case snapChunk:
			coff, data, err := decodeChunk(p)
			if err != nil {
				// Leave the stream to be resumed from the last good offset.
				return err
			}
			if coff != off {
				return fmt.Errorf("%w: chunk at offset %d, expected %d", ErrBadSnapshotFrame, coff, off)
			}
			if off+int64(len(data)) > total {
				tr.pw.CloseWithError(fmt.Errorf("tcp: snapshot stream longer than its announced %d bytes", total))
				<-tr.done
				return send(encodeVerdictFrame(tr.err))
			}
			// Blocks until the handler has taken the data: the sender's
			// writes back up through TCP, which is the flow control.
			if _, err := tr.pw.Write(data); err != nil {
				<-tr.done
				return send(encodeVerdictFrame(tr.err))
			}
			off += int64(len(data))
			r.advance(tr, len(data))
		case snapEnd:
			end, err := decodeOffsetFrame(p, snapEnd)
			if err != nil {
				return err
			}
			if end != total || off != total {
				tr.pw.CloseWithError(fmt.Errorf("tcp: snapshot stream ended at %d of %d bytes", off, total))
			} else {
				tr.pw.Close()
			}
			select {
			case <-tr.done:
			case <-t.ctx.Done():
				return transport.ErrClosed
			}
			return send(encodeVerdictFrame(tr.err))
		default:
			return fmt.Errorf("%w: unexpected frame type %d", ErrBadSnapshotFrame, p[0])
		}
	}
}
