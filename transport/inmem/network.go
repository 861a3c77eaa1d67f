// Package inmem is an in-memory transport.Transport for tests: every
// transport created by one Network can reach the others by address, and
// the test controls the network between them (partitions, one-way cuts,
// loss, duplication, delay and reordering), with every random choice drawn
// from a seeded PRNG so that a failing run can be replayed.
package inmem

import (
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/wire"
)

// Errors that callers act on.
var (
	// ErrAddrInUse is returned by NewTransport for an address that another
	// open transport of the same Network already has.
	ErrAddrInUse = errors.New("inmem: address in use")
	// ErrLinkDown is returned by SendSnapshot when the link to the
	// receiver is cut, partitioned, or the receiver is gone.
	ErrLinkDown = errors.New("inmem: link down")
)

// Faults describes how one directed link misbehaves. The zero value is a
// perfect link: no loss, no duplication, no delay, FIFO delivery.
type Faults struct {
	// Drop is the probability, in [0, 1], that a message is lost.
	Drop float64
	// Duplicate is the probability, in [0, 1], that a message that is not
	// lost is delivered twice.
	Duplicate float64
	// DelayMin and DelayMax bound the delay of each delivery, drawn
	// uniformly from [DelayMin, DelayMax]. Zero means at once.
	DelayMin, DelayMax time.Duration
	// Reorder lets each message keep its own random delay, so a later
	// message may overtake an earlier one. Without it a delayed link stays
	// FIFO: no message is delivered before one sent earlier on the link.
	Reorder bool
}

// Stats counts what a Network did with the messages it was given. Snapshot
// streams are not counted.
type Stats struct {
	// Sent counts messages taken from a sender's queue.
	Sent uint64
	// Delivered counts handler calls, duplicates included.
	Delivered uint64
	// Dropped counts messages lost to Faults.Drop.
	Dropped uint64
	// Duplicated counts extra deliveries caused by Faults.Duplicate.
	Duplicated uint64
	// Blocked counts messages refused by a cut or a partition, or
	// addressed to an address nobody has.
	Blocked uint64
	// Overflowed counts messages dropped because a sender's queue to a
	// peer was full.
	Overflowed uint64
}

type link struct{ from, to string }

// Network connects in-memory transports by address. Its methods are safe
// for concurrent use; a fault set by one call applies to messages sent
// after it returns (and to delayed messages still in flight, which a
// cut or a partition drops at delivery).
type Network struct {
	mu    sync.Mutex
	rng   *rand.Rand
	nodes map[string]*Transport
	// groups maps an address to its partition group; nil when the network
	// is not partitioned. Addresses absent from the map share group -1.
	groups    map[string]int
	cuts      map[link]bool
	faults    map[link]Faults
	defFaults Faults
	dropIf    func(from, to string, m wire.Message) bool
	stats     Stats
}

// NewNetwork returns an empty, fault-free network whose random choices
// (drops, duplicates, delays) are drawn from a PRNG seeded with seed.
func NewNetwork(seed int64) *Network {
	return &Network{
		rng:    rand.New(rand.NewSource(seed)),
		nodes:  map[string]*Transport{},
		cuts:   map[link]bool{},
		faults: map[link]Faults{},
	}
}

// NewTransport returns a transport reachable at addr on this network. It
// delivers nothing until Start.
func (n *Network) NewTransport(addr string) (*Transport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.nodes[addr]; ok {
		return nil, fmt.Errorf("%w: %q", ErrAddrInUse, addr)
	}
	t := newTransport(n, addr)
	n.nodes[addr] = t
	return t, nil
}

// Partition splits the network into the given groups of addresses: a
// message crosses only between addresses of the same group. Addresses not
// named in any group form one more group of their own. It replaces any
// earlier partition and keeps cuts and link faults.
func (n *Network) Partition(groups ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = map[string]int{}
	for i, g := range groups {
		for _, a := range g {
			n.groups[a] = i
		}
	}
}

// Isolate cuts every link between addr and the transports the network
// has now, in both directions (a transport created later is not cut).
func (n *Network) Isolate(addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for other := range n.nodes {
		if other != addr {
			n.cuts[link{addr, other}] = true
			n.cuts[link{other, addr}] = true
		}
	}
}

// Rejoin removes every cut to and from addr (undoing Isolate); partitions
// and other links' cuts stay.
func (n *Network) Rejoin(addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for l := range n.cuts {
		if l.from == addr || l.to == addr {
			delete(n.cuts, l)
		}
	}
}

// Cut stops every message from "from" to "to"; messages from "to" to
// "from" still flow (an asymmetric link).
func (n *Network) Cut(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cuts[link{from, to}] = true
}

// Mend undoes Cut(from, to).
func (n *Network) Mend(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.cuts, link{from, to})
}

// SetFaults sets the faults of the directed link from "from" to "to",
// overriding the default faults for that link.
func (n *Network) SetFaults(from, to string, f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults[link{from, to}] = f
}

// SetDefaultFaults sets the faults of every link that has none of its own.
func (n *Network) SetDefaultFaults(f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.defFaults = f
}

// DropIf makes the network lose every message for which f returns true
// (for example every MsgAppResp, or the votes to one node), counted as
// Dropped; nil removes the filter. f is called with the network's lock
// held and must not call the Network.
func (n *Network) DropIf(f func(from, to string, m wire.Message) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropIf = f
}

// Heal removes every partition, cut, fault and filter: the network is
// perfect again for messages sent from now on.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropIf = nil
	n.groups = nil
	n.cuts = map[link]bool{}
	n.faults = map[link]Faults{}
	n.defFaults = Faults{}
}

// Stats returns the network's counters so far.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// blockedLocked reports whether a cut or a partition stops from -> to.
func (n *Network) blockedLocked(from, to string) bool {
	if n.cuts[link{from, to}] {
		return true
	}
	if n.groups != nil {
		gf, ok := n.groups[from]
		if !ok {
			gf = -1
		}
		gt, ok := n.groups[to]
		if !ok {
			gt = -1
		}
		return gf != gt
	}
	return false
}

// linkUp reports whether from can reach a live transport at to.
func (n *Network) linkUp(from, to string) (*Transport, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.nodes[to]
	if !ok || n.blockedLocked(from, to) {
		return nil, false
	}
	return t, true
}

// route decides the fate of one message on from -> to: blocked, or the
// delays of its deliveries (none when it is lost, two when duplicated),
// and whether the link may reorder.
func (n *Network) route(from, to string, m *wire.Message) (delays []time.Duration, reorder, blocked bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Sent++
	if _, ok := n.nodes[to]; !ok || n.blockedLocked(from, to) {
		n.stats.Blocked++
		return nil, false, true
	}
	if n.dropIf != nil && n.dropIf(from, to, *m) {
		n.stats.Dropped++
		return nil, false, false
	}
	f, ok := n.faults[link{from, to}]
	if !ok {
		f = n.defFaults
	}
	if f.Drop > 0 && n.rng.Float64() < f.Drop {
		n.stats.Dropped++
		return nil, false, false
	}
	copies := 1
	if f.Duplicate > 0 && n.rng.Float64() < f.Duplicate {
		copies = 2
		n.stats.Duplicated++
	}
	for i := 0; i < copies; i++ {
		d := f.DelayMin
		if span := f.DelayMax - f.DelayMin; span > 0 {
			d += time.Duration(n.rng.Int63n(int64(span) + 1))
		}
		delays = append(delays, d)
	}
	return delays, f.Reorder, false
}

func (n *Network) count(field *uint64) {
	n.mu.Lock()
	*field++
	n.mu.Unlock()
}

// remove forgets t, if addr still belongs to it.
func (n *Network) remove(t *Transport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes[t.addr] == t {
		delete(n.nodes, t.addr)
	}
}
