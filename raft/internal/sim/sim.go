package sim

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"strings"

	"github.com/mandate-raft/mandate/raft/internal/core"
	"github.com/mandate-raft/mandate/wire"
)

// Config is one simulated run: a cluster, a scenario and a seed.
type Config struct {
	// Seed is the run's only source of randomness.
	Seed int64
	// Scenario is the fault schedule; it sets the cluster size.
	Scenario Scenario
	// ElectionTick and HeartbeatTick configure every core. Defaults 10, 2.
	ElectionTick, HeartbeatTick int
	// PreVote and CheckQuorum configure every core. The random-fault
	// scenario draws them from the seed; the targeted ones that need them
	// set them.
	PreVote, CheckQuorum bool
	// MaxSizePerMsg and MaxInflightMsgs are kept small by default (4 entries
	// of the simulated workload, 4 messages) so that flow control and
	// probing run constantly.
	MaxSizePerMsg   uint64
	MaxInflightMsgs int
	// Trace, when set, receives a line per event for debugging a seed
	// (the tests set it from MANDATE_SIM_TRACE=1 on a single seed).
	Trace io.Writer
	// LivenessTimeouts bounds, in election timeouts, how long the healed
	// cluster may take to elect a leader and commit a new proposal on
	// every node. Default 50.
	LivenessTimeouts int
}

// Stats counts what a run did, so tests can insist that it did something.
type Stats struct {
	// Steps counts simulator steps; Refused the inputs the core refused
	// (stale or odd peer messages, dropped proposals).
	Steps, Refused int
	// Message counts: put on the network, delivered, lost (dropped, cut
	// link, dead receiver), delivered twice, addressed to no node.
	Sent, Delivered, Dropped, Duplicated, Misrouted int
	// Elections counts nodes becoming leader; Crashes node crashes.
	Elections, Crashes int
	// Proposals accepted by a core, refused by one, and acknowledged to
	// their proposer (applied on the node that accepted them).
	Proposed, ProposalsDropped, Acked int
	// Applied counts entries applied, on all nodes.
	Applied int
	// Snapshots taken by nodes, and snapshots installed from a leader.
	Snapshots, SnapInstalls int
	// Reads counts read indexes answered; ConfChanges membership changes
	// accepted by a leader.
	Reads, ConfChanges int
	// FinalCommit is the highest committed index at the end.
	FinalCommit uint64
}

// Result is the outcome of a run.
type Result struct {
	// TraceHash summarises every event of the run; the same seed and
	// scenario must always give the same hash.
	TraceHash uint64
	Stats     Stats
	// Violation is the first property the run broke, or nil.
	Violation *Violation
}

// Violation is a broken property, with what is needed to understand and
// replay it.
type Violation struct {
	// Seed and Scenario name the run; Time and Step say when in it.
	Seed     int64
	Scenario string
	Time     Time
	Step     int
	// Property is what broke, Detail how.
	Property string
	Detail   string
	// Nodes describes the state of the nodes involved.
	Nodes string
}

// Error describes the violation and the nodes' state, on several lines.
func (v *Violation) Error() string {
	return fmt.Sprintf("seed %d, scenario %s, step %d, time %d: %s violated: %s\n%s",
		v.Seed, v.Scenario, v.Step, v.Time, v.Property, v.Detail, v.Nodes)
}

// Sim is one simulated cluster. It is used by one goroutine.
type Sim struct {
	cfg     Config
	rng     *rand.Rand
	now     Time
	seq     uint64
	queue   eventQueue
	nodes   []*node
	index   map[wire.NodeID]int
	net     network
	diskMax Time // storage ops take [1, diskMax] units
	snaps   map[string]fsmState
	chk     checker

	// onNewLeader, if set, runs after a node became leader (scenarios use
	// it to act right after an election).
	onNewLeader func(n *node)
	// onLeaderCommit, if set, runs when a leader's commit index moved.
	onLeaderCommit func(n *node)

	// faults is false once the scenario's fault phase has ended; fault
	// actions scheduled earlier check it and do nothing.
	faults   bool
	workload bool
	nextProp uint64
	acks     []ack
	maxAcked uint64
	reads    map[uint64]readReq
	nextRead uint64

	trace     uint64
	stats     Stats
	violation *Violation
}

type ack struct {
	id, index uint64
	node      wire.NodeID
}

type readReq struct{ minIndex uint64 }

// Run runs one simulation to its end and returns its result. A panic in
// the core is reported as a violation, with its stack.
func Run(cfg Config) (res Result) {
	s := newSim(cfg)
	defer func() {
		if r := recover(); r != nil {
			s.fail("no panic", fmt.Sprintf("panic: %v\n%s", r, debug.Stack()), s.nodes...)
		}
		res = Result{TraceHash: s.trace, Stats: s.stats, Violation: s.violation}
		res.Stats.FinalCommit = s.chk.lastCommitted()
	}()
	s.cfg.Scenario.Setup(s)
	s.start()
	s.runUntil(s.ticks(s.cfg.Scenario.FaultTicks))
	if s.violation != nil {
		return
	}
	s.heal()
	s.awaitLiveness()
	if s.violation == nil {
		s.checkFinal()
	}
	return
}

func newSim(cfg Config) *Sim {
	if cfg.ElectionTick == 0 {
		cfg.ElectionTick = 10
	}
	if cfg.HeartbeatTick == 0 {
		cfg.HeartbeatTick = 2
	}
	if cfg.MaxSizePerMsg == 0 {
		cfg.MaxSizePerMsg = 4 * 40
	}
	if cfg.MaxInflightMsgs == 0 {
		cfg.MaxInflightMsgs = 4
	}
	if cfg.LivenessTimeouts == 0 {
		cfg.LivenessTimeouts = 50
	}
	n := cfg.Scenario.Nodes
	s := &Sim{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6d616e64617465)),
		index:   map[wire.NodeID]int{},
		net:     newNetwork(n),
		diskMax: 4,
		snaps:   map[string]fsmState{},
		chk:     newChecker(),
		faults:  true,
		reads:   map[uint64]readReq{},
		trace:   fnvOffset,
	}
	for i := 0; i < n; i++ {
		id := wire.NodeID(fmt.Sprintf("n%d", i+1))
		s.index[id] = i
		s.nodes = append(s.nodes, &node{id: id, idx: i, tick: TickUnits - 1 + Time(s.rng.IntN(3))})
	}
	return s
}

// start bootstraps every node as a founding member (entry 1 of term 1
// holds the configuration, durable before the core starts) and starts it.
func (s *Sim) start() {
	founders := s.nodes
	if v := s.cfg.Scenario.Founders; v > 0 && v < len(s.nodes) {
		founders = s.nodes[:v]
	}
	var conf wire.Configuration
	for _, n := range founders {
		conf.Servers = append(conf.Servers, wire.Server{ID: n.id, Address: string(n.id)})
	}
	boot, err := core.Bootstrap(conf)
	if err != nil {
		panic(fmt.Sprintf("sim: bootstrap configuration: %v", err))
	}
	for _, n := range founders {
		n.d.hs = wire.HardState{Term: 1}
		if _, err := n.d.log.appendEntries([]wire.Entry{boot}); err != nil {
			panic(fmt.Sprintf("sim: bootstrap entry: %v", err))
		}
		s.checkLogMatching(n, []wire.Entry{boot})
	}
	// The others start blank and wait for a leader to add them.
	for _, n := range s.nodes {
		s.restart(n)
	}
}

// ticks converts a number of ticks into simulated time.
func (s *Sim) ticks(n int) Time { return Time(n) * TickUnits }

// electionTimeout is the nominal election timeout in simulated time.
func (s *Sim) electionTimeout() Time { return s.ticks(s.cfg.ElectionTick) }

func (s *Sim) schedule(e *event) {
	s.seq++
	e.seq = s.seq
	s.queue.push(e)
}

// after schedules fn to run d units from now.
func (s *Sim) after(d Time, fn func()) {
	s.schedule(&event{at: s.now + d, kind: evAction, fn: fn})
}

// at schedules fn to run at time t (or now, if t has passed).
func (s *Sim) at(t Time, fn func()) { s.after(max(t-s.now, 0), fn) }

// runUntil processes events up to time end, or until a violation.
func (s *Sim) runUntil(end Time) {
	for s.violation == nil && len(s.queue) > 0 && s.queue[0].at <= end {
		s.runOne()
	}
	if s.now < end {
		s.now = end
	}
}

// runWhile processes events until cond is false or time passes end; it
// reports whether cond became false.
func (s *Sim) runWhile(end Time, cond func() bool) bool {
	for s.violation == nil && cond() {
		if len(s.queue) == 0 || s.queue[0].at > end {
			return false
		}
		s.runOne()
	}
	return s.violation == nil
}

// maxSteps bounds the work of one run. A correct cluster needs a few
// tens of thousands of steps; more than this means a message storm or a
// livelock, which is a failure, not a reason to hang the test.
const maxSteps = 2_000_000

func (s *Sim) runOne() {
	if s.stats.Steps > maxSteps {
		s.fail("bounded work", fmt.Sprintf("more than %d steps by time %d: a message storm or livelock", maxSteps, s.now), s.nodes...)
		return
	}
	e := s.queue.pop()
	s.now = e.at
	s.trace = fnvUint(s.trace, uint64(e.at)<<8|uint64(e.kind))
	switch e.kind {
	case evAction:
		e.fn()
	case evDeliver:
		s.deliver(e)
	case evTick:
		n := s.nodes[e.node]
		if n.alive && n.inc == e.inc {
			s.stepNode(n, "tick", func() error { n.rn.Tick(); return nil })
			s.scheduleTick(n, n.tick)
		}
	case evStorage:
		n := s.nodes[e.node]
		if n.alive && n.inc == e.inc {
			s.storageStep(n)
		}
	}
}

// fail records the first violation with the state of the given nodes.
func (s *Sim) fail(property, detail string, nodes ...*node) {
	if s.violation != nil {
		return
	}
	var b strings.Builder
	for _, n := range nodes {
		if n != nil {
			fmt.Fprintf(&b, "  %s\n    %s\n", n, n.logSummary())
		}
	}
	fmt.Fprintf(&b, "  committed log: up to %d; leaders by term:", s.chk.lastCommitted())
	for t := uint64(1); t <= s.maxTerm(); t++ {
		if l, ok := s.chk.leaders[t]; ok {
			fmt.Fprintf(&b, " t%d=%s", t, l)
		}
	}
	b.WriteString("\n")
	s.violation = &Violation{
		Seed: s.cfg.Seed, Scenario: s.cfg.Scenario.Name, Time: s.now, Step: s.stats.Steps,
		Property: property, Detail: detail, Nodes: b.String(),
	}
}

func (s *Sim) maxTerm() uint64 {
	var t uint64
	for _, n := range s.nodes {
		t = max(t, n.term)
	}
	return t
}

// leader returns the live leader of the highest term, or nil.
func (s *Sim) leader() *node {
	var best *node
	for _, n := range s.nodes {
		if n.alive && n.role == core.StateLeader && (best == nil || n.term > best.term) {
			best = n
		}
	}
	return best
}

// heal ends the fault phase: every link heals, the network calms down and
// every crashed node restarts.
func (s *Sim) heal() {
	s.faults = false
	s.workload = false
	s.net.healAll()
	s.net.params = calmNet
	s.diskMax = 4
	for _, n := range s.nodes {
		s.restart(n)
	}
}

// awaitLiveness requires the healed cluster to elect a leader, commit a
// fresh proposal and bring every node to the same applied index within
// LivenessTimeouts election timeouts.
func (s *Sim) awaitLiveness() {
	deadline := s.now + Time(s.cfg.LivenessTimeouts)*s.electionTimeout()
	probes := map[uint64]bool{}
	firstAck := len(s.acks)
	probed := false
	s.each(s.electionTimeout()/2, func() bool {
		if probed {
			return false
		}
		if l := s.leader(); l != nil {
			if id := s.propose(l); id != 0 {
				probes[id] = true
			}
		}
		return true
	})
	done := func() bool {
		for ; !probed && firstAck < len(s.acks); firstAck++ {
			probed = probes[s.acks[firstAck].id]
		}
		if !probed {
			return false
		}
		c := s.chk.lastCommitted()
		for _, n := range s.members() {
			if n.fsm.applied != c || n.commit != c {
				return false
			}
		}
		return true
	}
	if !s.runWhile(deadline, func() bool { return !done() }) && s.violation == nil {
		what := "no fresh proposal was committed"
		if probed {
			what = "nodes did not converge on the committed log"
		} else if s.leader() == nil {
			what = "no leader"
		}
		s.fail("liveness", fmt.Sprintf("%s within %d election timeouts after the faults stopped", what, s.cfg.LivenessTimeouts), s.nodes...)
	}
}

// members returns the nodes of the configuration in force on the leader
// (every node if there is no leader): those that must converge.
func (s *Sim) members() []*node {
	l := s.leader()
	if l == nil || s.cfg.Scenario.Founders == 0 {
		return s.nodes
	}
	var out []*node
	for _, srv := range l.rn.Status().Config.Servers {
		if i, ok := s.index[srv.ID]; ok {
			out = append(out, s.nodes[i])
		}
	}
	return out
}

// each runs fn every d units while it returns true.
func (s *Sim) each(d Time, fn func() bool) {
	var loop func()
	loop = func() {
		if fn() {
			s.after(d, loop)
		}
	}
	s.after(0, loop)
}

// propose submits a new proposal on n and returns its ID, or 0 if the
// node dropped it.
func (s *Sim) propose(n *node) uint64 {
	if !n.alive {
		return 0
	}
	s.nextProp++
	id := s.nextProp
	e := wire.Entry{Type: wire.EntryNormal, Data: fmt.Appendf(nil, "p%d", id), Origin: n.id, ProposalID: id}
	var accepted bool
	s.stepNode(n, "propose", func() error {
		err := n.rn.Propose(e)
		accepted = err == nil
		return err
	})
	if !accepted {
		s.stats.ProposalsDropped++
		return 0
	}
	if n.alive {
		n.proposals[id] = true
	}
	s.stats.Proposed++
	return id
}

// startWorkload proposes on random live nodes (leader or not, so
// forwarding runs) and asks for read indexes, every few units, until the
// fault phase ends.
func (s *Sim) startWorkload(every Time) {
	s.workload = true
	s.each(every, func() bool {
		if !s.workload {
			return false
		}
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if !n.alive {
			return true
		}
		if s.rng.IntN(8) == 0 {
			s.readIndex(n)
		} else {
			s.propose(n)
		}
		return true
	})
}

// readIndex asks n for a read index; its answer must cover every entry
// committed by now.
func (s *Sim) readIndex(n *node) {
	s.nextRead++
	id := s.nextRead
	s.reads[id] = readReq{minIndex: s.chk.lastCommitted()}
	ctx := binary.BigEndian.AppendUint64(nil, id)
	s.stepNode(n, "read-index", func() error { n.rn.ReadIndex(ctx); return nil })
}

// compactEvery makes a random live node snapshot and compact its log every
// d units, to the end of the run: a runtime keeps taking snapshots after
// faults stop, and a node that can only catch up from a newer snapshot
// (one whose configuration includes it) relies on that.
func (s *Sim) compactEvery(d Time) {
	s.each(d, func() bool {
		s.compact(s.nodes[s.rng.IntN(len(s.nodes))])
		return true
	})
}

func (s *Sim) traceInt(x uint64) { s.trace = fnvUint(s.trace, x) }

func (s *Sim) traceMsg(kind uint64, m wire.Message) {
	h := fnvUint(s.trace, kind<<8|uint64(m.Type))
	h = fnvString(h, string(m.From))
	h = fnvString(h, string(m.To))
	h = fnvUint(h, m.Term)
	h = fnvUint(h, m.Index)
	h = fnvUint(h, m.LogTerm)
	h = fnvUint(h, m.Commit)
	h = fnvUint(h, uint64(len(m.Entries)))
	if m.Reject {
		h = fnvUint(h, m.RejectHint+1)
	}
	s.trace = h
}

func (s *Sim) traceReady(n *node, rd *core.Ready) {
	h := fnvUint(s.trace, uint64(n.idx))
	h = fnvUint(h, rd.HardState.Term)
	h = fnvString(h, string(rd.HardState.Vote))
	h = fnvUint(h, rd.HardState.Commit)
	h = fnvUint(h, uint64(len(rd.Entries)))
	h = fnvUint(h, uint64(len(rd.CommittedEntries)))
	h = fnvUint(h, uint64(len(rd.Messages))<<16|uint64(len(rd.DurableMessages)))
	if rd.SoftState != nil {
		h = fnvUint(h, uint64(rd.SoftState.State))
	}
	s.trace = h
}

// hook runs a scenario hook on n as its own event, right after the
// current one, if n still leads the same incarnation and term: a hook that
// steps the node must not run inside the Ready being handled.
func (s *Sim) hook(n *node, fn func(n *node)) {
	inc, term := n.inc, n.term
	s.after(0, func() {
		if n.alive && n.inc == inc && n.term == term && n.role == core.StateLeader {
			fn(n)
		}
	})
}

// logf writes a trace line when tracing is on.
func (s *Sim) logf(format string, args ...any) {
	if s.cfg.Trace != nil {
		fmt.Fprintf(s.cfg.Trace, "%6d ", s.now)
		fmt.Fprintf(s.cfg.Trace, format, args...)
		fmt.Fprintln(s.cfg.Trace)
	}
}
