package tcp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/wire"
)

// SendSnapshot streams data to m.To on a connection of its own, in
// CRC-checked chunks paced by SnapshotBandwidth, and returns the
// receiver's verdict. A stream cut by a failed connection is resumed from
// the receiver's last good offset, up to SnapshotRetries times.
func (t *Transport) SendSnapshot(ctx context.Context, m wire.Message, data io.ReadSeeker) error {
	err := t.sendSnapshot(ctx, m, data)
	if err != nil {
		t.stats.snapsFailed.Add(1)
	} else {
		t.stats.snapsSent.Add(1)
	}
	return err
}

func (t *Transport) sendSnapshot(ctx context.Context, m wire.Message, data io.ReadSeeker) error {
	t.mu.Lock()
	closed := t.closed
	addr, known := t.addrs[m.To]
	t.mu.Unlock()
	if closed {
		return transport.ErrClosed
	}
	if !known {
		t.reportUnreachable(m.To)
		return fmt.Errorf("tcp: snapshot to %s: %w", m.To, transport.ErrUnknownPeer)
	}
	if m.Type != wire.MsgSnap || m.Snapshot == nil {
		return fmt.Errorf("tcp: snapshot to %s: message is %s, not a MsgSnap with metadata", m.To, m.Type)
	}
	total, err := data.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("tcp: snapshot to %s: size of data: %w", m.To, err)
	}
	msg, err := newMsgEncoder().encode(&m)
	if err != nil {
		return err
	}
	header := encodeSnapHeader(rand.Uint64(), total, msg)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()

	log := t.log.With("peer", m.To, "index", m.Snapshot.Index, "size", total)
	var backoff time.Duration
	streamed := false // whether any attempt got past dialing
	for attempt := 0; ; attempt++ {
		verdict, final, err := t.snapshotAttempt(ctx, addr, m.To, header, data, total)
		if final {
			if verdict != nil {
				return fmt.Errorf("tcp: snapshot to %s: %w", m.To, verdict)
			}
			return nil
		}
		if t.ctx.Err() != nil {
			return transport.ErrClosed
		}
		if ctx.Err() != nil {
			return fmt.Errorf("tcp: snapshot to %s: %w", m.To, ctx.Err())
		}
		if errors.Is(err, errDial) && !streamed {
			// Never connected: the peer is down, not the stream cut.
			return fmt.Errorf("tcp: snapshot to %s: %w", m.To, err)
		}
		streamed = true
		if attempt >= t.cfg.SnapshotRetries {
			t.reportUnreachable(m.To)
			return fmt.Errorf("tcp: snapshot to %s failed after %d attempts: %w", m.To, attempt+1, err)
		}
		backoff = nextBackoff(backoff, t.cfg.BackoffMin, t.cfg.BackoffMax)
		t.stats.snapResumes.Add(1)
		log.Info("snapshot stream interrupted, resuming", "attempt", attempt+1, "retry-in", backoff, "error", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
	}
}

// errDial marks an attempt that could not connect at all.
var errDial = errors.New("cannot connect")

// snapshotAttempt runs one connection of a snapshot stream. final is true
// when the receiver gave its verdict (or the data cannot be read); err
// says why a non-final attempt stopped.
func (t *Transport) snapshotAttempt(ctx context.Context, addr string, to wire.NodeID, header []byte, data io.ReadSeeker, total int64) (verdict error, final bool, err error) {
	conn, err := t.dial(ctx, addr, to, laneSnapshot)
	if err != nil {
		t.reportUnreachable(to)
		return nil, false, fmt.Errorf("%w: %w", errDial, err)
	}
	stopKill := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopKill()
	defer conn.Close()

	bw := bufio.NewWriterSize(conn, 256<<10)
	fr := frameReader{r: bufio.NewReaderSize(conn, 4096), max: t.cfg.MaxFrameSize}
	if err := conn.SetDeadline(time.Now().Add(t.cfg.ReadTimeout)); err != nil {
		return nil, false, err
	}
	if err := writeFrame(bw, header); err != nil {
		return nil, false, err
	}
	if err := bw.Flush(); err != nil {
		return nil, false, err
	}
	p, err := fr.next()
	if err != nil {
		return nil, false, err
	}
	var off int64
	switch p[0] {
	case snapVerdict:
		v, err := decodeVerdictFrame(p)
		if err != nil {
			return nil, false, err
		}
		return v, true, nil
	default:
		if off, err = decodeOffsetFrame(p, snapResume); err != nil {
			return nil, false, err
		}
		if off > total {
			return nil, false, fmt.Errorf("%w: receiver resumes at %d of %d bytes", ErrBadSnapshotFrame, off, total)
		}
	}
	if _, err := data.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("tcp: seek snapshot data to %d: %w", off, err), true, nil
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, false, err
	}

	// The receiver speaks again only to give its verdict, possibly early
	// (its handler failed mid-stream); a reader waits for it meanwhile.
	type reply struct {
		verdict error
		err     error
	}
	replies := make(chan reply, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		p, err := fr.next()
		if err != nil {
			replies <- reply{err: err}
			return
		}
		v, err := decodeVerdictFrame(p)
		replies <- reply{verdict: v, err: err}
	}()
	defer func() { conn.Close(); <-readerDone }()
	// await waits for the verdict after the stream ended or broke.
	await := func(streamErr error) (error, bool, error) {
		if streamErr != nil {
			// The stream broke: a verdict, if any, is already on its way;
			// do not wait on a peer that may be gone.
			_ = conn.SetReadDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
		}
		select {
		case r := <-replies:
			if r.err != nil {
				if streamErr != nil {
					return nil, false, streamErr
				}
				return nil, false, r.err
			}
			return r.verdict, true, nil
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}

	buf := make([]byte, chunkHeaderLen+t.cfg.SnapshotChunkSize)
	for off < total {
		select {
		case r := <-replies:
			// The receiver answered before the end: its handler stopped.
			if r.err != nil {
				return nil, false, r.err
			}
			return r.verdict, true, nil
		default:
		}
		n, rerr := io.ReadFull(data, buf[chunkHeaderLen:chunkHeaderLen+min(int64(t.cfg.SnapshotChunkSize), total-off)])
		if rerr != nil {
			return fmt.Errorf("tcp: read snapshot data at %d: %w", off+int64(n), rerr), true, nil
		}
		if err := t.limiter.wait(ctx, n); err != nil {
			return nil, false, err
		}
		chunk := buf[:chunkHeaderLen+n]
		fillChunk(chunk, off)
		if err := conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout)); err != nil {
			return nil, false, err
		}
		if err := writeFrame(bw, chunk); err != nil {
			return await(err)
		}
		t.stats.snapBytes.Add(uint64(n))
		off += int64(n)
	}
	if err := writeFrame(bw, encodeOffsetFrame(snapEnd, total)); err != nil {
		return await(err)
	}
	if err := bw.Flush(); err != nil {
		return await(err)
	}
	return await(nil)
}
