package raft

import (
	"errors"
	"fmt"
	"io"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/wire"
)

var _ transport.Handler = (*Node)(nil)

// HandleMessage implements transport.Handler: it queues m for the event
// loop, which steps it with StepPeer (refusing local message types and
// strangers with a debug log line). It waits only while the loop's inbox is
// full, and not at all once the node has stopped.
func (n *Node) HandleMessage(m wire.Message) {
	select {
	case n.recvc <- m:
	case <-n.stopc:
	}
}

// ReportUnreachable implements transport.Handler: the leader then probes
// id gently instead of streaming appends at it.
func (n *Node) ReportUnreachable(id wire.NodeID) {
	_ = n.sendLocal(n.ctx, func() { n.rn.ReportUnreachable(id) })
}

// HandleSnapshot implements transport.Handler: it writes the inbound
// snapshot into the snapshot store, then steps m (naming the stored copy)
// so that the core may install it.
func (n *Node) HandleSnapshot(m wire.Message, data io.Reader) error {
	if m.Type != wire.MsgSnap || m.Snapshot == nil {
		return fmt.Errorf("raft: inbound snapshot from %q: message %s carries no snapshot", m.From, m.Type)
	}
	select {
	case <-n.stopc:
		return n.stoppedErr()
	default:
	}
	meta := wire.SnapshotMeta{Index: m.Snapshot.Index, Term: m.Snapshot.Term, Config: m.Snapshot.Config.Clone()}
	sink, err := n.snaps.Create(meta)
	if err != nil {
		return fmt.Errorf("raft: store snapshot %d from %q: %w", meta.Index, m.From, err)
	}
	if _, err := io.Copy(sink, data); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raft: receive snapshot %d from %q: %w", meta.Index, m.From, err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raft: store snapshot %d from %q: %w", meta.Index, m.From, err)
	}
	meta.ID = sink.ID()
	m.Snapshot = &meta
	n.log.Named("snapshot").Info("received snapshot", "from", string(m.From), "snapshot-index", meta.Index, "snapshot-id", meta.ID)
	select {
	case n.recvc <- m:
		return nil
	case <-n.stopc:
		return n.stoppedErr()
	}
}

// sendSnapshot streams the snapshot a MsgSnap names to its follower in the
// background, then reports the result to the core.
func (n *Node) sendSnapshot(m wire.Message) {
	if m.Snapshot == nil {
		n.rn.ReportSnapshot(m.To, false)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		err := n.streamSnapshot(m)
		if err != nil && !errors.Is(err, ErrShutdown) {
			n.log.Named("snapshot").Warn("snapshot transfer failed", "to", string(m.To), "snapshot-index", m.Snapshot.Index, "error", err)
		}
		_ = n.sendLocal(n.ctx, func() { n.rn.ReportSnapshot(m.To, err == nil) })
	}()
}

func (n *Node) streamSnapshot(m wire.Message) error {
	meta, rc, err := n.snaps.Open(m.Snapshot.ID)
	if err != nil {
		return fmt.Errorf("open snapshot %s: %w", m.Snapshot.ID, err)
	}
	defer rc.Close()
	m.Snapshot = &meta
	if err := n.trans.SendSnapshot(n.ctx, m, rc); err != nil {
		if n.ctx.Err() != nil {
			return ErrShutdown
		}
		return fmt.Errorf("send snapshot %d: %w", meta.Index, err)
	}
	n.log.Named("snapshot").Info("sent snapshot", "to", string(m.To), "snapshot-index", meta.Index)
	return nil
}
