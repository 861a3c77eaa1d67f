package sim

import "github.com/mandate-raft/mandate/wire"

// netParams are the network's per-message fault rates and delays.
type netParams struct {
	drop     float64 // probability a message is lost
	dup      float64 // probability a message is delivered twice
	minDelay Time
	maxDelay Time    // delay drawn from [minDelay, maxDelay]
	longProb float64 // probability a message is held back much longer
	longMax  Time    // extra delay drawn from [0, longMax] when held back
	// longRepliesOnly holds back only answers (votes, acknowledgements),
	// so requests keep elections going while their answers arrive late.
	longRepliesOnly bool
}

// calmNet is the network once faults stop: no loss, short delays.
var calmNet = netParams{minDelay: 1, maxDelay: 6}

// network is the set of links between nodes. cut[from][to] blocks one
// direction only, which is how asymmetric partitions are made.
type network struct {
	params netParams
	cut    [][]bool
	// slow[from][to] is extra delay on one direction of one link.
	slow [][]Time
}

func newNetwork(n int) network {
	cut := make([][]bool, n)
	slow := make([][]Time, n)
	for i := range cut {
		cut[i] = make([]bool, n)
		slow[i] = make([]Time, n)
	}
	return network{params: calmNet, cut: cut, slow: slow}
}

func (nw *network) healAll() {
	for i := range nw.cut {
		for j := range nw.cut[i] {
			nw.cut[i][j] = false
			nw.slow[i][j] = 0
		}
	}
}

// partition cuts every link between nodes of different groups, both ways,
// and heals every link within a group. Nodes in no group are isolated.
func (nw *network) partition(groups ...[]int) {
	group := make([]int, len(nw.cut))
	for i := range group {
		group[i] = -1 - i // a group of its own
	}
	for g, members := range groups {
		for _, m := range members {
			group[m] = g
		}
	}
	for i := range nw.cut {
		for j := range nw.cut[i] {
			nw.cut[i][j] = group[i] != group[j]
		}
	}
}

// isolate cuts a node off from every other, both ways.
func (nw *network) isolate(n int) {
	for i := range nw.cut {
		if i != n {
			nw.cut[n][i], nw.cut[i][n] = true, true
		}
	}
}

// reconnect heals every link of a node, both ways.
func (nw *network) reconnect(n int) {
	for i := range nw.cut {
		nw.cut[n][i], nw.cut[i][n] = false, false
	}
}

// delay draws the delivery delay of a message of type t.
func (s *Sim) delay(t wire.MessageType) Time {
	p := &s.net.params
	d := p.minDelay
	if p.maxDelay > p.minDelay {
		d += Time(s.rng.Int64N(int64(p.maxDelay-p.minDelay) + 1))
	}
	if p.longProb > 0 && (!p.longRepliesOnly || t.IsResponse()) && s.rng.Float64() < p.longProb {
		d += Time(s.rng.Int64N(int64(p.longMax) + 1))
	}
	return d
}

// send puts a message on the network. Proposals forwarded to the leader
// are never duplicated: Raft itself does not deduplicate them (client
// sessions above it do), so a duplicate would be a second, legitimate
// entry and blur the exactly-once check on acknowledged writes.
func (s *Sim) send(from *node, m wire.Message) {
	to, ok := s.index[m.To]
	if !ok || to == from.idx {
		s.stats.Misrouted++
		return
	}
	s.traceMsg(1, m)
	s.stats.Sent++
	if s.net.cut[from.idx][to] || (s.net.params.drop > 0 && s.rng.Float64() < s.net.params.drop) {
		s.stats.Dropped++
		if s.cfg.Trace != nil {
			s.logf("drop %v", m)
		}
		s.lost(from, m)
		return
	}
	slow := s.net.slow[from.idx][to]
	s.schedule(&event{at: s.now + slow + s.delay(m.Type), kind: evDeliver, node: to, msg: m})
	if m.Type != wire.MsgProp && s.net.params.dup > 0 && s.rng.Float64() < s.net.params.dup {
		s.stats.Duplicated++
		s.schedule(&event{at: s.now + slow + s.delay(m.Type), kind: evDeliver, node: to, msg: m})
	}
}

// lost tells the sender, as a transport would, that a snapshot did not
// arrive; a lost MsgApp is sometimes reported as unreachable.
func (s *Sim) lost(from *node, m wire.Message) {
	inc := from.inc
	switch {
	case m.Type == wire.MsgSnap:
		s.after(s.delay(m.Type), func() {
			if from.alive && from.inc == inc {
				s.stepNode(from, "report-snapshot-failed", func() error {
					from.rn.ReportSnapshot(m.To, false)
					return nil
				})
			}
		})
	case m.Type == wire.MsgApp && s.rng.IntN(4) == 0:
		s.after(s.delay(m.Type), func() {
			if from.alive && from.inc == inc {
				s.stepNode(from, "report-unreachable", func() error {
					from.rn.ReportUnreachable(m.To)
					return nil
				})
			}
		})
	}
}

// deliver hands a message that reached its destination to the node. A
// snapshot's data is in the shared snapshot store already; once the node
// has it the sender learns the transfer ended.
func (s *Sim) deliver(e *event) {
	n := s.nodes[e.node]
	m := e.msg
	from := s.nodes[s.index[m.From]]
	if !n.alive || s.net.cut[from.idx][n.idx] {
		s.stats.Dropped++
		s.lost(from, m)
		return
	}
	s.traceMsg(2, m)
	s.stats.Delivered++
	if s.cfg.Trace != nil {
		s.logf("deliver %v", m)
	}
	m.Entries = append([]wire.Entry(nil), m.Entries...) // the core may keep them
	s.stepNode(n, "deliver", func() error { return n.rn.StepPeer(m) })
	if m.Type == wire.MsgSnap && from.alive && s.violation == nil {
		s.stepNode(from, "report-snapshot", func() error {
			from.rn.ReportSnapshot(m.To, true)
			return nil
		})
	}
}
