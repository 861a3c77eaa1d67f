package sim

import (
	"fmt"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// Scenario is a fault schedule for a cluster of Nodes. Setup runs before
// the nodes start: it may set the cores' options in s.cfg and schedules
// the workload, the faults and any scenario-specific checks, all within
// the first FaultTicks ticks. After those the simulator heals everything
// and checks liveness and the final log.
type Scenario struct {
	Name  string
	Nodes int
	// Founders is how many of the nodes form the initial configuration
	// (0: all); the others start blank, to be added by membership changes.
	Founders   int
	FaultTicks int
	// DefaultSeeds is how many seeds the test runs by default (0: the
	// test's own default); rare interleavings need more.
	DefaultSeeds int
	Setup        func(s *Sim)
}

// RandomFaults is the main fuzz scenario: proposals and reads throughout,
// snapshots and compaction, and a random fault every fraction of an
// election timeout: partitions into random groups, one-way link cuts,
// heals, crashes (of the leader too) with later restarts, loss,
// duplication, long reordering and slow disks. PreVote and CheckQuorum are
// drawn from the seed.
func RandomFaults(nodes int) Scenario {
	return Scenario{
		Name:       fmt.Sprintf("random-%d", nodes),
		Nodes:      nodes,
		FaultTicks: 400,
		Setup: func(s *Sim) {
			s.cfg.PreVote = s.rng.IntN(2) == 0
			s.cfg.CheckQuorum = s.rng.IntN(2) == 0
			if s.rng.IntN(2) == 0 {
				s.cfg.MaxSizePerMsg = 1 // one entry per MsgApp
			}
			s.startWorkload(12)
			s.compactEvery(4 * TickUnits)
			s.each(s.electionTimeout()/2, func() bool {
				if !s.faults {
					return false
				}
				if s.rng.IntN(2) == 0 {
					s.randomFault()
				}
				return true
			})
			// Sometimes cut a leader off the moment it is elected or
			// commits, before what it sends next gets out (see Figure8).
			s.onNewLeader = func(n *node) {
				if s.faults && s.rng.IntN(5) == 0 {
					s.isolateFor(n, s.randomDowntime())
				}
			}
			s.onLeaderCommit = func(n *node) {
				if s.faults && s.rng.IntN(10) == 0 {
					s.isolateFor(n, s.randomDowntime())
				}
			}
		},
	}
}

// randomFault injects one random fault.
func (s *Sim) randomFault() {
	n := len(s.nodes)
	switch s.rng.IntN(12) {
	case 11: // hand leadership to a random node
		if l := s.leader(); l != nil {
			to := s.nodes[s.rng.IntN(n)].id
			s.stepNode(l, "transfer-leader", func() error { l.rn.TransferLeader(to); return nil })
		}
	case 10: // crash several nodes at once
		for k := 1 + s.rng.IntN(n); k > 0; k-- {
			s.crashFor(s.crashTarget(), s.randomDowntime())
		}
	case 0, 1: // partition into two random groups
		perm := s.rng.Perm(n)
		k := 1 + s.rng.IntN(n-1)
		s.net.partition(perm[:k], perm[k:])
	case 2: // cut one direction of one link
		a, b := s.rng.IntN(n), s.rng.IntN(n)
		if a != b {
			s.net.cut[a][b] = true
		}
	case 3: // heal
		s.net.healAll()
	case 4: // crash a node, preferably one with writes in flight
		s.crashFor(s.crashTarget(), s.randomDowntime())
	case 5: // crash the leader
		if l := s.leader(); l != nil {
			s.crashFor(l, s.randomDowntime())
		}
	case 6: // isolate the leader
		if l := s.leader(); l != nil {
			s.net.isolate(l.idx)
		}
	case 7: // loss, duplication, reordering
		p := calmNet
		p.drop = []float64{0, 0.05, 0.2}[s.rng.IntN(3)]
		p.dup = []float64{0, 0.05, 0.1}[s.rng.IntN(3)]
		p.maxDelay = []Time{6, 20}[s.rng.IntN(2)]
		if s.rng.IntN(3) == 0 {
			p.longProb, p.longMax = 0.1, 3*s.electionTimeout()
		}
		s.net.params = p
	case 8: // a slow disk, a stalled one (longer than an election
		// timeout: the leader must step down), then a normal one
		s.diskMax = []Time{4, 4, 25, 2 * s.electionTimeout()}[s.rng.IntN(4)]
	case 9: // back to a calm network
		s.net.params = calmNet
	}
}

// crashTarget picks a live node with writes not yet durable if there is
// one (a crash that loses nothing tests little), else any node.
func (s *Sim) crashTarget() *node {
	var busy []*node
	for _, n := range s.nodes {
		if n.alive && len(n.pending) > 0 {
			busy = append(busy, n)
		}
	}
	if len(busy) > 0 {
		return busy[s.rng.IntN(len(busy))]
	}
	return s.nodes[s.rng.IntN(len(s.nodes))]
}

func (s *Sim) randomDowntime() Time {
	return s.electionTimeout()/4 + Time(s.rng.Int64N(int64(3*s.electionTimeout())))
}

// crashFor crashes n now and restarts it after d.
func (s *Sim) crashFor(n *node, d Time) {
	if !n.alive {
		return
	}
	s.crash(n)
	s.after(d, func() { s.restart(n) })
}

// Scenarios are the targeted fault schedules of the test plan, each for
// its cluster size.
func Scenarios() []Scenario {
	return []Scenario{
		RotatingMinorities(3), RotatingMinorities(5), RotatingMinorities(7),
		MinorityWithLeader(), Figure8(3), Figure8(5), LossyThenReordered(), Churn(),
		LinksCutAndRestored(), PartialPartition(), AsymmetricLeader(),
		CrashRestartAll(3), CrashRestartAll(5), SnapshotCatchUp(),
		Membership(), MembershipRaces(), ChangeBeforeOwnCommit(), StaleVoteGrant(), StaleResponses(),
	}
}

// safeElections turns on PreVote and CheckQuorum, which the scenarios
// about leaders in minorities rely on.
func (s *Sim) safeElections() { s.cfg.PreVote, s.cfg.CheckQuorum = true, true }

// RotatingMinorities cuts a random minority (for 3 nodes: one, often the
// leader) off the rest, moving it every round. The majority must have a
// leader within a few election timeouts, and no minority node may lead
// (check-quorum makes a cut-off leader step down).
func RotatingMinorities(nodes int) Scenario {
	const rounds, roundTicks = 5, 150
	return Scenario{
		Name:       fmt.Sprintf("rotating-minorities-%d", nodes),
		Nodes:      nodes,
		FaultTicks: rounds*roundTicks + 30,
		Setup: func(s *Sim) {
			s.safeElections()
			s.startWorkload(20)
			for r := 0; r < rounds; r++ {
				start := s.ticks(30 + r*roundTicks)
				s.at(start, func() {
					var minority []int
					if l := s.leader(); l != nil && s.rng.IntN(2) == 0 {
						minority = append(minority, l.idx)
					}
					for _, i := range s.rng.Perm(nodes) {
						if len(minority) < (nodes-1)/2 && (len(minority) == 0 || minority[0] != i) {
							minority = append(minority, i)
						}
					}
					in := make([]bool, nodes)
					for _, i := range minority {
						in[i] = true
					}
					var majority []int
					for i := 0; i < nodes; i++ {
						if !in[i] {
							majority = append(majority, i)
						}
					}
					s.net.partition(minority, majority)
					s.expectLeaderIn(majority, s.ticks(roundTicks-10))
					s.after(s.ticks(roundTicks-5), func() { s.expectNoLeaderIn(minority) })
				})
			}
		},
	}
}

// expectWithin polls cond every tick and fails with property and detail
// unless it holds within d. Election outcomes are polled rather than
// sampled at one instant: split votes make the time to elect a leader a
// random variable with a long, thin tail.
func (s *Sim) expectWithin(d Time, property string, cond func() bool, detail func() string) {
	deadline := s.now + d
	s.each(TickUnits, func() bool {
		switch {
		case s.violation != nil || cond():
			return false
		case s.now >= deadline:
			s.fail(property, detail(), s.nodes...)
			return false
		}
		return true
	})
}

// expectLeaderIn requires that, within d, a live node of group leads the
// highest term any node of the group knows.
func (s *Sim) expectLeaderIn(group []int, d Time) {
	s.expectWithin(d, "leader in the majority", func() bool {
		var lead *node
		var term uint64
		for _, i := range group {
			n := s.nodes[i]
			term = max(term, n.term)
			if n.alive && n.role == core.StateLeader && (lead == nil || n.term > lead.term) {
				lead = n
			}
		}
		return lead != nil && lead.term == term
	}, func() string {
		return fmt.Sprintf("no leader among %v within %d ticks", s.ids(group), d/TickUnits)
	})
}

// expectNoLeaderIn checks that no node of group believes it leads (with
// check-quorum, a leader cut off from a quorum steps down).
func (s *Sim) expectNoLeaderIn(group []int) {
	for _, i := range group {
		if n := s.nodes[i]; n.alive && n.role == core.StateLeader {
			s.fail("no leader in a minority", fmt.Sprintf("%s still leads term %d while cut off from a quorum", n.id, n.term), s.nodes...)
			return
		}
	}
}

func (s *Sim) ids(idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, string(s.nodes[i].id))
	}
	return out
}

// MinorityWithLeader cuts the leader and one follower off the other three
// of five and proposes to the old leader: the minority must commit
// nothing, the majority elects a leader, and after the heal the old
// leader's uncommitted tail is overwritten (the convergence and Log
// Matching checks see to that).
func MinorityWithLeader() Scenario {
	const rounds, roundTicks = 4, 150
	return Scenario{
		Name:       "minority-with-leader",
		Nodes:      5,
		FaultTicks: rounds*roundTicks + 30,
		Setup: func(s *Sim) {
			s.safeElections()
			s.startWorkload(25)
			for r := 0; r < rounds; r++ {
				s.at(s.ticks(30+r*roundTicks), func() {
					s.net.healAll()
					l := s.leader()
					if l == nil {
						return
					}
					other := (l.idx + 1 + s.rng.IntN(4)) % 5
					minority := []int{l.idx, other}
					var majority []int
					for i := 0; i < 5; i++ {
						if i != l.idx && i != other {
							majority = append(majority, i)
						}
					}
					s.net.partition(minority, majority)
					s.expectLeaderIn(majority, s.ticks(roundTicks-20))
					// Entries the majority holds may still commit in the
					// minority (they were replicated before the cut); none
					// beyond them can.
					var limit uint64
					for _, i := range majority {
						limit = max(limit, s.nodes[i].held.lastIndex())
					}
					var ids []uint64
					for k := 0; k < 5; k++ {
						if id := s.propose(l); id != 0 {
							ids = append(ids, id)
						}
					}
					s.after(s.ticks(roundTicks-20), func() {
						for _, i := range minority {
							if s.nodes[i].commit > limit {
								s.fail("minority commits nothing", fmt.Sprintf("%s committed up to %d inside the minority; the majority held entries up to %d only",
									s.nodes[i].id, s.nodes[i].commit, limit), s.nodes...)
							}
						}
						s.expectNoLeaderIn(minority)
						s.expectNotAcked(ids)
					})
				})
			}
		},
	}
}

// expectNotAcked checks that none of the proposals were acknowledged.
func (s *Sim) expectNotAcked(ids []uint64) {
	for _, a := range s.acks {
		for _, id := range ids {
			if a.id == id {
				s.fail("minority commits nothing", fmt.Sprintf("proposal %d made to a leader cut off from a quorum was acknowledged", id), s.nodes...)
				return
			}
		}
	}
}

// Figure8 crashes leaders right after they accepted proposals, and new
// leaders right after their election, many times, so that entries of old
// terms sit uncommitted on some nodes and compete with newer ones (Raft
// paper, Figure 8). One entry per MsgApp makes a follower acknowledge old
// entries before the new leader's own no-op, which is when a leader that
// commits earlier-term entries by counting replicas goes wrong.
func Figure8(nodes int) Scenario {
	return Scenario{
		Name:       fmt.Sprintf("figure-8-%d", nodes),
		Nodes:      nodes,
		FaultTicks: 400,
		Setup: func(s *Sim) {
			s.cfg.PreVote = s.rng.IntN(2) == 0
			s.cfg.MaxSizePerMsg = 1
			// A leader is often cut off the moment its commit index moves,
			// before the messages that carry its newer entries are out.
			s.onLeaderCommit = func(n *node) {
				if s.faults && s.rng.IntN(4) == 0 {
					s.isolateFor(n, s.shortDowntime())
				}
			}
			// A new leader is often cut off or crashed before its no-op
			// gets far, leaving its term's entries on few nodes.
			s.onNewLeader = func(n *node) {
				if !s.faults {
					return
				}
				switch s.rng.IntN(5) {
				case 0, 1:
					s.isolateFor(n, s.shortDowntime())
				case 2:
					inc := n.inc
					s.after(Time(s.rng.IntN(int(2*TickUnits))), func() {
						if n.inc == inc {
							s.crashFor(n, s.shortDowntime())
						}
					})
				}
			}
			s.each(s.electionTimeout(), func() bool {
				if !s.faults {
					return false
				}
				l := s.leader()
				if l == nil {
					return true
				}
				for k := 1 + s.rng.IntN(8); k > 0; k-- {
					s.propose(l)
				}
				s.after(Time(s.rng.IntN(int(2*TickUnits))), func() {
					if s.rng.IntN(2) == 0 {
						s.crashFor(l, s.shortDowntime())
					} else {
						s.isolateFor(l, s.shortDowntime())
					}
				})
				if s.rng.IntN(3) == 0 {
					s.crashFor(s.nodes[s.rng.IntN(nodes)], s.shortDowntime())
				}
				return true
			})
		},
	}
}

// isolateFor cuts n off from every other node now and reconnects it
// after d.
func (s *Sim) isolateFor(n *node, d Time) {
	s.net.isolate(n.idx)
	s.after(d, func() { s.net.reconnect(n.idx) })
}

// shortDowntime is a crash of less than two election timeouts.
func (s *Sim) shortDowntime() Time {
	return TickUnits + Time(s.rng.Int64N(int64(2*s.electionTimeout())))
}

// LossyThenReordered runs with 10% loss and some duplication, then with
// many messages held back for up to three election timeouts.
func LossyThenReordered() Scenario {
	return Scenario{
		Name:       "lossy-then-reordered",
		Nodes:      5,
		FaultTicks: 300,
		Setup: func(s *Sim) {
			s.cfg.PreVote, s.cfg.CheckQuorum = s.rng.IntN(2) == 0, s.rng.IntN(2) == 0
			s.startWorkload(15)
			s.compactEvery(5 * TickUnits)
			s.at(0, func() {
				s.net.params = netParams{drop: 0.1, dup: 0.05, minDelay: 1, maxDelay: 20}
			})
			s.at(s.ticks(150), func() {
				s.net.params = netParams{minDelay: 1, maxDelay: 10, longProb: 0.3, longMax: 3 * s.electionTimeout()}
			})
		},
	}
}

// Churn crashes, restarts, disconnects and reconnects nodes every fraction
// of an election timeout while clients write.
func Churn() Scenario {
	return Scenario{
		Name:       "churn",
		Nodes:      5,
		FaultTicks: 300,
		Setup: func(s *Sim) {
			s.cfg.PreVote, s.cfg.CheckQuorum = s.rng.IntN(2) == 0, s.rng.IntN(2) == 0
			s.startWorkload(10)
			s.compactEvery(6 * TickUnits)
			s.each(s.electionTimeout()/3, func() bool {
				if !s.faults {
					return false
				}
				n := s.nodes[s.rng.IntN(5)]
				switch s.rng.IntN(4) {
				case 0:
					s.crash(n)
				case 1:
					s.restart(n)
				case 2:
					s.net.isolate(n.idx)
				case 3:
					for i := range s.nodes {
						s.net.cut[n.idx][i], s.net.cut[i][n.idx] = false, false
					}
				}
				return true
			})
		},
	}
}

// LinksCutAndRestored cuts the links of a 5-node mesh one by one (each
// direction on its own), then restores them in a random order; the
// liveness phase then requires a leader and a commit.
func LinksCutAndRestored() Scenario {
	return Scenario{
		Name:       "links-cut-and-restored",
		Nodes:      5,
		FaultTicks: 280,
		Setup: func(s *Sim) {
			s.cfg.PreVote, s.cfg.CheckQuorum = s.rng.IntN(2) == 0, s.rng.IntN(2) == 0
			s.startWorkload(20)
			var links [][2]int
			for a := 0; a < 5; a++ {
				for b := 0; b < 5; b++ {
					if a != b {
						links = append(links, [2]int{a, b})
					}
				}
			}
			cut := s.rng.Perm(len(links))
			restore := s.rng.Perm(len(links))
			step := s.ticks(5)
			for k := range links {
				l := links[cut[k]]
				s.at(s.ticks(20)+Time(k)*step, func() { s.net.cut[l[0]][l[1]] = true })
				r := links[restore[k]]
				s.at(s.ticks(130)+Time(k)*step, func() { s.net.cut[r[0]][r[1]] = false })
			}
		},
	}
}

// PartialPartition connects n1, n2 and n3 fully, n4 only to n2 and n5
// only to n3. With pre-vote and check-quorum there must be one stable
// leader: once one has settled, no term changes.
func PartialPartition() Scenario {
	return Scenario{
		Name:       "partial-partition",
		Nodes:      5,
		FaultTicks: 400,
		Setup: func(s *Sim) {
			s.safeElections()
			s.startWorkload(20)
			s.at(0, func() {
				s.net.partition([]int{0, 1, 2})
				for _, l := range [][2]int{{3, 1}, {4, 2}} {
					s.net.cut[l[0]][l[1]], s.net.cut[l[1]][l[0]] = false, false
				}
			})
			var lead *node
			var term uint64
			s.at(s.ticks(100), func() {
				lead, term = s.leader(), s.maxTerm()
				if lead == nil || lead.term != term {
					s.fail("one stable leader", fmt.Sprintf("no leader of term %d after 10 election timeouts", term), s.nodes...)
				}
			})
			s.at(s.ticks(395), func() {
				if l := s.leader(); l != lead || s.maxTerm() != term {
					s.fail("one stable leader", fmt.Sprintf("leader %s of term %d did not stay: now term %d", lead.id, term, s.maxTerm()), s.nodes...)
				}
			})
		},
	}
}

// AsymmetricLeader lets the leader send but not receive, round after
// round: check-quorum must make it step down and another node lead.
func AsymmetricLeader() Scenario {
	const rounds, roundTicks = 4, 150
	return Scenario{
		Name:       "asymmetric-leader",
		Nodes:      5,
		FaultTicks: rounds*roundTicks + 30,
		Setup: func(s *Sim) {
			s.safeElections()
			s.startWorkload(20)
			for r := 0; r < rounds; r++ {
				s.at(s.ticks(30+r*roundTicks), func() {
					s.net.healAll()
					l := s.leader()
					if l == nil {
						return
					}
					old := l.term
					for i := range s.nodes {
						s.net.cut[i][l.idx] = true
					}
					s.expectWithin(s.ticks(roundTicks-10), "deaf leader steps down", func() bool {
						nl := s.leader()
						return !(l.alive && l.role == core.StateLeader) && nl != nil && nl != l && nl.term > old
					}, func() string {
						return fmt.Sprintf("%s, which cannot receive, was not replaced as leader of term %d", l.id, old)
					})
				})
			}
		},
	}
}

// CrashRestartAll crashes every node (or a random subset) at once,
// repeatedly, and restarts them shortly after.
func CrashRestartAll(nodes int) Scenario {
	return Scenario{
		Name:       fmt.Sprintf("crash-restart-all-%d", nodes),
		Nodes:      nodes,
		FaultTicks: 300,
		Setup: func(s *Sim) {
			s.cfg.PreVote, s.cfg.CheckQuorum = s.rng.IntN(2) == 0, s.rng.IntN(2) == 0
			s.startWorkload(10)
			s.compactEvery(5 * TickUnits)
			s.each(s.electionTimeout()+Time(s.rng.Int64N(int64(2*s.electionTimeout()))), func() bool {
				if !s.faults {
					return false
				}
				all := s.rng.IntN(2) == 0
				for _, n := range s.nodes {
					if all || s.rng.IntN(2) == 0 {
						s.crashFor(n, Time(1+s.rng.Int64N(int64(s.electionTimeout()))))
					}
				}
				return true
			})
		},
	}
}

// SnapshotCatchUp keeps one follower away (cut off, or crashed) while the
// others write and compact their logs, so that it can only catch up by
// snapshot; the transfer meets loss, duplication, reordering and crashes
// of the receiver.
func SnapshotCatchUp() Scenario {
	const rounds, roundTicks = 4, 90
	return Scenario{
		Name:       "snapshot-catch-up",
		Nodes:      3,
		FaultTicks: rounds*roundTicks + 20,
		Setup: func(s *Sim) {
			s.cfg.PreVote, s.cfg.CheckQuorum = s.rng.IntN(2) == 0, s.rng.IntN(2) == 0
			s.startWorkload(8)
			s.compactEvery(2 * TickUnits)
			for r := 0; r < rounds; r++ {
				s.at(s.ticks(20+r*roundTicks), func() {
					s.net.healAll()
					s.net.params = calmNet
					var f *node
					for _, i := range s.rng.Perm(3) {
						if n := s.nodes[i]; n.role != core.StateLeader {
							f = n
							break
						}
					}
					if s.rng.IntN(2) == 0 {
						s.crashFor(f, s.ticks(40))
					} else {
						s.net.isolate(f.idx)
					}
					s.after(s.ticks(40), func() {
						s.net.healAll()
						s.net.params = netParams{drop: 0.05, dup: 0.2, minDelay: 1, maxDelay: 30}
					})
					s.after(s.ticks(45+s.rng.IntN(20)), func() {
						s.crashFor(f, Time(1+s.rng.Int64N(int64(s.electionTimeout()))))
					})
				})
			}
		},
	}
}

// Membership starts three founders and two blank nodes and changes the
// membership (add learner, promote, demote, remove, the leader too) at
// random and right after elections, under the random faults.
func Membership() Scenario {
	return Scenario{
		Name:       "membership",
		Nodes:      5,
		Founders:   3,
		FaultTicks: 300,
		Setup: func(s *Sim) {
			s.cfg.PreVote = s.rng.IntN(2) == 0
			s.cfg.CheckQuorum = s.rng.IntN(2) == 0
			s.startWorkload(12)
			s.compactEvery(4 * TickUnits)
			s.onNewLeader = func(n *node) {
				inc := n.inc
				s.after(Time(s.rng.IntN(int(TickUnits))), func() {
					if s.faults && n.alive && n.inc == inc {
						s.changeMembership(n)
					}
				})
			}
			s.each(s.electionTimeout()/2, func() bool {
				if !s.faults {
					return false
				}
				switch s.rng.IntN(4) {
				case 0:
					s.randomFault()
				case 1, 2:
					if l := s.leader(); l != nil {
						s.changeMembership(l)
					}
				}
				return true
			})
		},
	}
}

// MembershipRaces proposes a membership change on every new leader at
// once and on the current leader every election timeout, and often cuts
// that leader off right after, so that changes proposed by successive
// leaders race: a leader that changes membership before it committed an
// entry of its own term can combine with an unseen change of its
// predecessor into two configurations without a common majority.
func MembershipRaces() Scenario {
	return Scenario{
		Name:         "membership-races",
		Nodes:        5,
		Founders:     4,
		FaultTicks:   300,
		DefaultSeeds: 10,
		Setup: func(s *Sim) {
			// Without pre-vote and check-quorum a removed server that does
			// not know it was removed keeps raising the terms of the
			// learners it still counts as voters, and a leader of a lower
			// term never hears of it (as in etcd's raft): a liveness limit
			// of that configuration, not what this scenario probes.
			s.safeElections()
			s.startWorkload(15)
			race := func(n *node) {
				s.changeMembership(n)
				if s.rng.IntN(2) == 0 {
					inc := n.inc
					s.after(Time(s.rng.IntN(int(3*TickUnits))), func() {
						if n.inc == inc {
							s.isolateFor(n, s.shortDowntime())
						}
					})
				}
			}
			s.onNewLeader = func(n *node) {
				if s.faults {
					race(n)
				}
			}
			s.each(s.electionTimeout(), func() bool {
				if !s.faults {
					return false
				}
				if l := s.leader(); l != nil {
					race(l)
				}
				return true
			})
		},
	}
}

// changeMembership asks n (if it leads) for a random single-server
// change: a non-member is added as a learner; a learner is promoted once
// it has caught up (as the runtime does: a voter that cannot vote yet
// only costs availability), or removed; a voter is demoted or removed.
func (s *Sim) changeMembership(n *node) {
	if !n.alive || n.role != core.StateLeader {
		return
	}
	target := s.nodes[s.rng.IntN(len(s.nodes))]
	st := n.rn.Status()
	srv, member := st.Config.Server(target.id)
	cc := core.ConfChange{ID: target.id, Address: string(target.id)}
	switch {
	case !member:
		cc.Op = core.AddLearner
	case srv.Role == wire.Learner && st.Progress[target.id].Match >= st.HardState.Commit && s.rng.IntN(4) > 0:
		cc.Op = core.AddVoter
	case srv.Role == wire.Learner && s.rng.IntN(3) > 0:
		return
	case srv.Role == wire.Voter && len(st.Config.Voters()) < 3:
		// Going from two voters to one can leave a cluster that cannot
		// elect anyone (see docs/simulation.md); that is a liveness
		// limit of the change protocol, not what this scenario probes.
		return
	case srv.Role == wire.Voter && s.rng.IntN(2) == 0:
		cc.Op = core.DemoteVoter
	default:
		cc.Op = core.RemoveServer
	}
	s.stepNode(n, "conf-change", func() error {
		err := n.rn.ProposeConfChange(cc)
		if err == nil {
			s.stats.ConfChanges++
			s.logf("conf change on %s: %+v", n.id, cc)
		}
		return err
	})
}

// StaleResponses holds a third of all messages back for up to four
// election timeouts, without pre-vote, so that elections are frequent and
// answers (votes, acknowledgements) routinely arrive terms after they
// were sent: a node that counts a response from an older term elects two
// leaders or commits what it must not.
func StaleResponses() Scenario {
	return Scenario{
		Name:         "stale-responses",
		Nodes:        5,
		FaultTicks:   400,
		DefaultSeeds: 100,
		Setup: func(s *Sim) {
			s.cfg.CheckQuorum = s.rng.IntN(2) == 0
			s.startWorkload(15)
			s.at(0, func() {
				s.net.params = netParams{minDelay: 1, maxDelay: 10, longProb: 0.5, longMax: 3 * s.electionTimeout(), longRepliesOnly: s.rng.IntN(2) == 0}
			})
			s.each(s.electionTimeout(), func() bool {
				if !s.faults {
					return false
				}
				if l := s.leader(); l != nil && s.rng.IntN(2) == 0 {
					s.isolateFor(l, s.shortDowntime())
				}
				return true
			})
		},
	}
}

// ChangeBeforeOwnCommit scripts the unsafe interleaving of single-server
// changes (Ongaro, raft-dev, 2015) on four voters and a caught-up learner
// n5. Leader L1, cut off from all but n5, promotes n5 (C1: five voters)
// and is cut off entirely. The other three elect L2, which at once
// proposes removing X (C2: three voters) while X is cut off; C2 needs only
// L2 and the fourth node Y. Then L1, n5 and X, a majority of C1, are
// reconnected without L2 and Y. A core that lets L2 change membership
// before committing an entry of its own term commits C2 and then lets L1
// win with C1 and overwrite it; a correct core refuses C2 until L2's no-op
// commits, which it cannot without X or L1.
func ChangeBeforeOwnCommit() Scenario {
	return Scenario{
		Name:       "change-before-own-commit",
		Nodes:      5,
		Founders:   4,
		FaultTicks: 300,
		Setup: func(s *Sim) {
			s.cfg.PreVote = s.rng.IntN(2) == 0
			n5 := s.nodes[4]
			reached := false
			s.at(s.ticks(290), func() {
				if !reached {
					s.fail("scenario ran", "the script never reached the second leader's membership change", s.nodes...)
				}
			})
			added := false
			s.each(TickUnits, func() bool {
				l := s.leader()
				if s.now < s.ticks(30) || l == nil {
					return true
				}
				s.stepNode(l, "add-learner", func() error {
					err := l.rn.ProposeConfChange(core.ConfChange{Op: core.AddLearner, ID: n5.id, Address: string(n5.id)})
					added = err == nil
					return err
				})
				return !added
			})
			s.each(TickUnits, func() bool {
				l1 := s.leader()
				if s.now < s.ticks(80) || l1 == nil || l1 == n5 {
					return true
				}
				if st := l1.rn.Status(); st.Progress[n5.id].Match < st.HardState.Commit {
					return true // n5 has not caught up yet
				}
				s.net.partition([]int{l1.idx, n5.idx})
				promoted := false
				s.stepNode(l1, "promote", func() error {
					err := l1.rn.ProposeConfChange(core.ConfChange{Op: core.AddVoter, ID: n5.id, Address: string(n5.id)})
					promoted = err == nil
					return err
				})
				if !promoted {
					s.net.healAll()
					return true
				}
				s.after(TickUnits, func() {
					s.net.isolate(l1.idx)
					s.net.isolate(n5.idx)
					var others []int
					for i := 0; i < 4; i++ {
						if i != l1.idx {
							others = append(others, i)
						}
					}
					s.net.partition(others)
					s.onNewLeader = func(l2 *node) {
						if l2 == l1 || l2 == n5 {
							return
						}
						s.onNewLeader = nil
						var rest []int
						for _, i := range others {
							if i != l2.idx {
								rest = append(rest, i)
							}
						}
						x, y := s.nodes[rest[0]], s.nodes[rest[1]]
						s.net.isolate(x.idx)
						reached = true
						s.stepNode(l2, "remove", func() error {
							return l2.rn.ProposeConfChange(core.ConfChange{Op: core.RemoveServer, ID: x.id})
						})
						s.after(s.ticks(3), func() {
							s.net.partition([]int{l1.idx, n5.idx, x.idx}, []int{l2.idx}, []int{y.idx})
						})
					}
				})
				return false
			})
		},
	}
}

// StaleVoteGrant scripts a vote answer arriving a term late, on three
// nodes with neither pre-vote nor check-quorum. C and D cannot talk; V's
// link to C is slow. C campaigns in term T and V grants it, but the grant
// is held back; C campaigns again in T+1 (now cut off from V), D campaigns
// in T and T+1 and wins T+1 with V's vote; then V's grant for T reaches C.
// A core that counts a response from an older term makes C a second
// leader of T+1.
func StaleVoteGrant() Scenario {
	return Scenario{
		Name:       "stale-vote-grant",
		Nodes:      3,
		FaultTicks: 200,
		Setup: func(s *Sim) {
			reached := false
			s.at(s.ticks(190), func() {
				if !reached {
					s.fail("scenario ran", "the script never reached the second campaign in term T+1", s.nodes...)
				}
			})
			s.each(TickUnits, func() bool {
				if s.now < s.ticks(40) {
					return true
				}
				v := s.leader()
				if v == nil {
					return true // wait for one
				}
				var rest []*node
				for _, n := range s.nodes {
					if n != v {
						rest = append(rest, n)
					}
				}
				c, d := rest[s.rng.IntN(2)], rest[0]
				if d == c {
					d = rest[1]
				}
				s.net.cut[c.idx][d.idx], s.net.cut[d.idx][c.idx] = true, true
				s.net.slow[v.idx][c.idx] = s.ticks(8)
				campaign := func(n *node) {
					s.stepNode(n, "campaign", func() error { return n.rn.Campaign() })
				}
				campaign(c) // term T; V grants, slowly
				s.after(s.ticks(2), func() {
					s.net.cut[c.idx][v.idx] = true
					campaign(c) // term T+1, V never hears of it
				})
				s.after(s.ticks(3), func() { campaign(d) }) // term T: V already voted
				s.after(s.ticks(5), func() {
					reached = true
					campaign(d) // term T+1: V grants, D leads
				})
				return false
			})
		},
	}
}
