package raft

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/snapshot"
	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/wire"
)

// Node is one member of a Mandate cluster: a Raft core, its event loop,
// storage and apply stages, and the user's FSM. All methods are safe for
// concurrent use.
type Node struct {
	cfg   Config
	id    wire.NodeID
	log   hclog.Logger
	fsm   fsm.FSM
	store logstore.Store
	snaps snapshot.Store
	trans transport.Transport

	storage *logStorage
	props   *registry
	// nonce fills the high 32 bits of every proposal and barrier ID, so IDs
	// stay unique across restarts of this node.
	nonce uint64
	seq   atomic.Uint32

	// Event loop inputs.
	propc  chan *proposal
	recvc  chan wire.Message
	localc chan func()

	persistQ *queue[persistItem]
	applyQ   *queue[applyItem]
	// persistBacklog and applyBacklog count the entries queued for the
	// storage and apply stages (see maxBacklog).
	persistBacklog, applyBacklog atomic.Int64
	// lastWoken is how many of this node's proposals the apply stage's
	// latest delivery resolved: the size of the burst of callers it woke
	// (the event loop's gather heuristic reads it).
	lastWoken atomic.Int32

	// Owned by the event loop goroutine.
	rn    *core.RawNode
	loop  loopState
	peers map[wire.NodeID]string

	// Published by the stages for readers on any goroutine.
	pub published
	// persistHS is the hard state last written to the store.
	persistHS atomic.Pointer[wire.HardState]
	// contact is what this node last heard from its leader (and, leading,
	// from its followers), for bounded-staleness reads.
	contact contactTracker
	// reload holds the settings Reload changed.
	reload reloadState

	obsMu     sync.Mutex
	observers map[int]chan<- LeaderChange
	obsNext   int

	ctx      context.Context // cancelled when the node stops
	cancel   context.CancelFunc
	stopOnce sync.Once
	stopc    chan struct{} // closed when the node starts stopping
	loopDone chan struct{} // closed when the event loop has returned
	done     chan struct{} // closed when every goroutine has ended
	wg       sync.WaitGroup
	fatalMu  sync.Mutex
	fatal    error
}

// published is state the stages publish atomically for Leader, State and
// Stats.
type published struct {
	state   atomic.Uint32 // core.StateType
	leader  atomic.Pointer[wire.NodeID]
	term    atomic.Uint64
	commit  atomic.Uint64
	applied atomic.Uint64
	config  atomic.Pointer[wire.Configuration]
}

// NewNode starts a node: it restores f from the newest valid snapshot in
// snaps, loads the log and hard state from store, and starts the event
// loop and stages, and trans (whose handler it becomes). Committed entries
// in the log after the snapshot are applied again, so f must start empty.
// A node with no state waits to be contacted by a cluster's leader, or for
// Bootstrap. The caller keeps ownership of store, snaps and trans: close
// them after Shutdown.
func NewNode(cfg Config, f fsm.FSM, store logstore.Store, snaps snapshot.Store, trans transport.Transport) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if f == nil || store == nil || snaps == nil || trans == nil {
		return nil, fmt.Errorf("%w: NewNode needs an FSM, a log store, a snapshot store and a transport", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	n := &Node{
		cfg:       cfg,
		id:        cfg.ID,
		log:       cfg.Logger.Named("raft").With("node-id", string(cfg.ID)),
		fsm:       f,
		store:     store,
		snaps:     snaps,
		trans:     trans,
		props:     newRegistry(),
		nonce:     bootNonce(),
		propc:     make(chan *proposal, 4096),
		recvc:     make(chan wire.Message, 4096),
		localc:    make(chan func(), 256),
		persistQ:  newQueue[persistItem](),
		applyQ:    newQueue[applyItem](),
		peers:     map[wire.NodeID]string{},
		observers: map[int]chan<- LeaderChange{},
		stopc:     make(chan struct{}),
		loopDone:  make(chan struct{}),
		done:      make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	snap, err := n.restoreNewestSnapshot()
	if err != nil {
		n.cancel()
		return nil, err
	}
	if n.storage, err = newLogStorage(store, snap); err != nil {
		n.cancel()
		return nil, fmt.Errorf("load log: %w", err)
	}
	n.storage.onCorrupt = func(err error) { n.stop(fmt.Errorf("log store: %w", err)) }
	hs, _, err := store.HardState()
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("load hard state: %w", err)
	}
	if err := n.startCore(hs, snap.Index); err != nil {
		n.cancel()
		return nil, err
	}
	app := newApplier(n, snap)
	n.persistHS.Store(&hs)
	n.wg.Add(3)
	go n.run()
	go n.runPersist()
	go app.run()
	go n.reap()
	if err := trans.Start(n); err != nil {
		n.stop(fmt.Errorf("start transport: %w", err))
		<-n.done
		return nil, fmt.Errorf("start transport: %w", err)
	}
	n.log.Info("node started", "term", hs.Term, "commit", hs.Commit, "snapshot-index", snap.Index,
		"last-index", n.storage.LastIndex())
	return n, nil
}

// startCore creates the core from hs and the storage, and publishes its
// initial state. It runs before the loop starts, or on the loop.
func (n *Node) startCore(hs wire.HardState, applied uint64) error {
	tick, hb, el, stall := n.cfg.ticks()
	n.loop.tick = tick
	n.loop.maxCatchUp = 2*el + stall
	if snapIdx := n.storage.Snapshot().Index; hs.Commit < snapIdx {
		// A snapshot holds only committed entries.
		hs.Commit = snapIdx
	}
	if last := n.storage.LastIndex(); hs.Commit > last {
		// The commit index is written only after the entries it covers,
		// so the log lost entries that were committed.
		return fmt.Errorf("%w: hard state commits index %d but the log ends at %d", logstore.ErrCorrupt, hs.Commit, last)
	}
	rn, err := core.NewRawNode(core.Config{
		ID:                        n.id,
		ElectionTick:              el,
		HeartbeatTick:             hb,
		Storage:                   n.storage,
		HardState:                 hs,
		Applied:                   applied,
		MaxSizePerMsg:             n.cfg.MaxSizePerMsg,
		MaxInflightMsgs:           n.cfg.MaxInflight,
		CheckQuorum:               !n.cfg.DisableCheckQuorum,
		ReadOnlyOption:            readOnlyOption(n.cfg),
		PreVote:                   !n.cfg.DisablePreVote,
		DisableProposalForwarding: n.cfg.DisableForwarding,
		DiskStallTicks:            stall,
		Seed:                      rand.Int64(),
		Logger:                    n.log.Named("core"),
	})
	if err != nil {
		return fmt.Errorf("start raft core: %w", err)
	}
	n.rn = rn
	n.applyReloadedTimeouts()
	st := rn.Status()
	n.pub.term.Store(st.HardState.Term)
	n.pub.commit.Store(st.HardState.Commit)
	n.pub.state.Store(uint32(st.SoftState.State))
	n.loop.soft = st.SoftState
	n.syncPeers(st.Config)
	return nil
}

// bootNonce returns a random number for the high half of proposal IDs.
func bootNonce() uint64 {
	var b [4]byte
	if _, err := crand.Read(b[:]); err != nil {
		return uint64(rand.Uint32()) << 32
	}
	return uint64(binary.BigEndian.Uint32(b[:])) << 32
}

// nextID returns an ID unique to this node across restarts (with high
// probability: 32 random bits per boot).
func (n *Node) nextID() uint64 {
	for {
		if s := n.seq.Add(1); s != 0 {
			return n.nonce | uint64(s)
		}
	}
}

// restoreNewestSnapshot restores the FSM from the newest snapshot that
// opens and restores cleanly, and returns its metadata (zero if none).
func (n *Node) restoreNewestSnapshot() (wire.SnapshotMeta, error) {
	metas, err := n.snaps.List()
	if err != nil {
		return wire.SnapshotMeta{}, fmt.Errorf("list snapshots: %w", err)
	}
	for _, m := range metas {
		err := n.restoreSnapshot(m.ID)
		if err == nil {
			return m, nil
		}
		n.log.Warn("skipping snapshot that does not restore", "snapshot-id", m.ID, "snapshot-index", m.Index, "error", err)
	}
	if len(metas) > 0 {
		return wire.SnapshotMeta{}, fmt.Errorf("no snapshot of %d restores cleanly", len(metas))
	}
	return wire.SnapshotMeta{}, nil
}

// restoreSnapshot replaces the FSM's state with snapshot id's.
func (n *Node) restoreSnapshot(id string) error {
	_, rc, err := n.snaps.Open(id)
	if err != nil {
		return fmt.Errorf("open snapshot %s: %w", id, err)
	}
	defer rc.Close()
	if err := n.fsm.Restore(rc); err != nil {
		return fmt.Errorf("restore FSM from snapshot %s: %w", id, err)
	}
	// The store verifies the checksum when the data has been read to its
	// end; an FSM may stop reading early, so read the rest here.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("verify snapshot %s: %w", id, err)
	}
	return nil
}

// Bootstrap makes this node a founding member of a new cluster with
// configuration conf; every founding member is bootstrapped with the same
// conf. On blank stores it first asks every other founding voter what it
// holds, and persists conf as log entry 1 only once each has answered that
// it holds nothing more: so a member that lost its data directory does
// not found the cluster a second time (it waits, blank, for the leader to
// send it the cluster's state), and a new cluster forms once every
// founding voter is up. Bootstrap returns once the question is asked;
// Stats.AwaitingFounders lists who has yet to answer. On stores that
// already hold this bootstrap entry it does nothing (so a daemon may call
// it on every start); on stores holding anything else it returns
// ErrAlreadyBootstrapped.
func (n *Node) Bootstrap(conf wire.Configuration) error {
	ent, err := core.Bootstrap(conf)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if _, ok := conf.Server(n.id); !ok {
		return fmt.Errorf("bootstrap: %w: this node (%s) is not in the founding configuration", ErrInvalidConfig, n.id)
	}
	errc := make(chan error, 1)
	if err := n.sendLocal(context.Background(), func() { errc <- n.bootstrapOnLoop(ent) }); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-n.stopc:
		return n.stoppedErr()
	}
}

func (n *Node) bootstrapOnLoop(ent wire.Entry) error {
	blank, hs, err := n.blankStores()
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if blank {
		return n.startFounding(ent)
	}
	first, _ := n.store.FirstIndex()
	if first == 1 {
		if ents, err := n.store.Entries(1, 2, 0); err == nil && len(ents) == 1 && sameEntry(ents[0], ent) {
			return nil
		}
	}
	return fmt.Errorf("%w: hard state %+v, last index %d", ErrAlreadyBootstrapped, hs, n.storage.LastIndex())
}

// blankStores reports whether this node holds no log entry and no
// snapshot, durably or on its way to the disk, and returns its durable
// hard state (a blank node may have taken a term from a leader's message).
func (n *Node) blankStores() (bool, wire.HardState, error) {
	hs, _, err := n.store.HardState()
	if err != nil {
		return false, hs, fmt.Errorf("read hard state: %w", err)
	}
	last, err := n.store.LastIndex()
	if err != nil {
		return false, hs, fmt.Errorf("read last index: %w", err)
	}
	return last == 0 && n.storage.Snapshot().Index == 0 && n.persistQ.len() == 0, hs, nil
}

// writeFounding persists the founding configuration entry ent and restarts
// the core on it. maxTerm is the highest term the other founding members
// reported: the node starts in that term having voted for itself, so that
// it casts no second vote in a term it may have voted in before it lost
// its data.
func (n *Node) writeFounding(ent wire.Entry, maxTerm uint64) error {
	blank, hs, err := n.blankStores()
	if err != nil {
		return err
	}
	if !blank {
		n.log.Info("bootstrap: not writing the founding configuration: this node received the cluster's state from its leader meanwhile")
		return nil
	}
	term := max(1, hs.Term, maxTerm)
	vote := wire.None
	if term == hs.Term {
		vote = hs.Vote
	}
	if term > 1 && vote == wire.None {
		vote = n.id
	}
	if err := n.store.StoreEntries([]wire.Entry{ent}); err != nil {
		return fmt.Errorf("store entry 1: %w", err)
	}
	hs = wire.HardState{Term: term, Vote: vote}
	if err := n.store.SetHardState(hs); err != nil {
		return fmt.Errorf("store hard state: %w", err)
	}
	if err := n.storage.reload(); err != nil {
		return err
	}
	n.persistHS.Store(&hs)
	if err := n.startCore(hs, 0); err != nil {
		return err
	}
	n.log.Info("bootstrapped", "voters", ent.Config.Voters(), "term", term)
	return nil
}

func sameEntry(a, b wire.Entry) bool {
	if a.Index != b.Index || a.Term != b.Term || a.Type != b.Type || (a.Config == nil) != (b.Config == nil) {
		return false
	}
	if a.Config == nil {
		return true
	}
	if len(a.Config.Servers) != len(b.Config.Servers) {
		return false
	}
	for i := range a.Config.Servers {
		if a.Config.Servers[i] != b.Config.Servers[i] {
			return false
		}
	}
	return true
}

// ID returns this node's ID.
func (n *Node) ID() wire.NodeID { return n.id }

// sendLocal runs f on the event loop. It fails if ctx ends or the node
// stops first.
func (n *Node) sendLocal(ctx context.Context, f func()) error {
	select {
	case n.localc <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return n.stoppedErr()
	}
}

// stop stops the node once, recording why when cause is not nil (a fatal
// error). It does not wait.
func (n *Node) stop(cause error) {
	n.stopOnce.Do(func() {
		if cause != nil {
			n.fatalMu.Lock()
			n.fatal = cause
			n.fatalMu.Unlock()
			n.log.Error("node stopping after a fatal error; the rest of the cluster carries on", "error", cause)
		}
		n.cancel()
		close(n.stopc)
	})
}

// stoppedErr is the error reported for work refused because the node
// stopped: ErrShutdown, joined with the fatal error if there was one.
func (n *Node) stoppedErr() error {
	n.fatalMu.Lock()
	defer n.fatalMu.Unlock()
	if n.fatal != nil {
		return errors.Join(ErrShutdown, n.fatal)
	}
	return ErrShutdown
}

// reap waits for the node to stop, for whatever reason, and for its
// goroutines to end, then answers every caller still waiting.
func (n *Node) reap() {
	<-n.stopc
	n.wg.Wait()
	n.props.close(n.stoppedErr())
	n.obsMu.Lock()
	clear(n.observers)
	n.obsMu.Unlock()
	n.pub.state.Store(uint32(core.StateFollower))
	close(n.done)
}

// Shutdown stops the node: the event loop, the storage and apply stages,
// snapshot transfers. Callers still waiting in Apply get ErrShutdown (as
// not committed, or as an unknown outcome if their command was handed to
// Raft). It waits for every goroutine of the node to end, or for ctx. It
// returns the fatal error that stopped the node earlier, if any. It does
// not close the stores or the transport. Calling it again is harmless.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stop(nil)
	select {
	case <-n.done:
	case <-ctx.Done():
		return fmt.Errorf("raft: shutdown: %w", ctx.Err())
	}
	if err := n.Err(); err != nil {
		return err
	}
	n.log.Info("node shut down")
	return nil
}

// Done returns a channel closed once the node has stopped, by Shutdown or
// by a fatal error, and every goroutine of it has ended; Err then says
// which.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns the fatal error that stopped the node, or nil.
func (n *Node) Err() error {
	n.fatalMu.Lock()
	defer n.fatalMu.Unlock()
	return n.fatal
}

// tickInterval is how often the event loop ticks the core.
func (n *Node) tickInterval() time.Duration { return n.loop.tick }
