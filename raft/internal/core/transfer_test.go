package core

import (
	"errors"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

func TestTransferLeadershipToUpToDateFollower(t *testing.T) {
	nw := newNetwork(t, ids(3), func(c *Config) { c.CheckQuorum = true })
	electAndSettle(t, nw, "n1")
	_ = nw.propose("n1", "a")
	nw.node("n1").rn.TransferLeader("n2")
	nw.stabilize()
	if nw.leader() != "n2" || nw.term("n2") != 3 {
		t.Fatalf("leader %q in term %d, want n2 in term 3", nw.leader(), nw.term("n2"))
	}
	// Followers in a leader lease (check-quorum) still voted: the
	// campaign was marked as a transfer.
	_ = nw.propose("n2", "b")
	for _, id := range nw.ids {
		if got := nw.appliedData(id); len(got) != 2 {
			t.Fatalf("%s applied %v, want [a b]", id, got)
		}
	}
}

func TestTransferLeadershipBringsALaggingTargetUpToDateFirst(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.isolate("n3")
	for i := 0; i < 5; i++ {
		_ = nw.propose("n1", "x")
	}
	nw.heal()
	nw.node("n1").rn.TransferLeader("n3")
	if st := nw.node("n1").rn.Status(); st.LeadTransferee != "n3" {
		t.Fatalf("lead transferee %q, want n3", st.LeadTransferee)
	}
	// While transferring, proposals are refused.
	if err := nw.node("n1").rn.Propose(wire.Entry{Data: []byte("y")}); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("proposal during transfer: %v, want ErrProposalDropped", err)
	}
	nw.stabilize()
	for i := 0; i < 3 && nw.leader() != "n3"; i++ {
		nw.tick()
	}
	if nw.leader() != "n3" {
		t.Fatalf("leader %q, want n3", nw.leader())
	}
	nw.checkLogsMatch()
}

func TestTransferLeadershipAbortsAfterElectionTimeout(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.isolate("n3")
	nw.node("n1").rn.TransferLeader("n3")
	nw.stabilize()
	if st := nw.node("n1").rn.Status(); st.LeadTransferee != "n3" {
		t.Fatalf("lead transferee %q, want n3", st.LeadTransferee)
	}
	for i := 0; i < 10; i++ {
		nw.node("n1").rn.Tick()
		nw.node("n2").rn.Tick()
		nw.stabilize()
	}
	st := nw.node("n1").rn.Status()
	if st.LeadTransferee != None || st.SoftState.State != StateLeader {
		t.Fatalf("after an election timeout: transferee %q state %v, want the transfer aborted and n1 leading",
			st.LeadTransferee, st.SoftState.State)
	}
	if err := nw.propose("n1", "after-abort"); err != nil {
		t.Fatalf("proposal after the abort: %v", err)
	}
}

func TestTransferLeadershipRequestsAreForwardedAndIgnoredForNonVoters(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	// Asked on a follower: forwarded to the leader.
	nw.node("n2").rn.TransferLeader("n3")
	nw.stabilize()
	if nw.leader() != "n3" {
		t.Fatalf("leader %q after a forwarded transfer, want n3", nw.leader())
	}
	// To an unknown node or to itself: nothing happens.
	nw.node("n3").rn.TransferLeader("n9")
	nw.node("n3").rn.TransferLeader("n3")
	nw.stabilize()
	if st := nw.node("n3").rn.Status(); st.LeadTransferee != None || nw.leader() != "n3" {
		t.Fatalf("transferee %q leader %q, want no transfer", st.LeadTransferee, nw.leader())
	}
}

// A transport authenticates the sender of every message, so the transfer
// request a follower forwards must come from that follower; the target
// travels in Context.
func TestForwardedTransferRequestComesFromTheForwardingFollower(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	nw.sent = nil
	nw.node("n2").rn.TransferLeader("n3")
	nw.stabilize()
	if nw.leader() != "n3" {
		t.Fatalf("leader %q after a transfer asked on n2, want n3", nw.leader())
	}
	forwarded := 0
	for _, m := range nw.sent {
		if m.Type != wire.MsgTransferLeader {
			continue
		}
		forwarded++
		if m.From != "n2" || m.To != "n1" || string(m.Context) != "n3" {
			t.Fatalf("forwarded request %v with context %q, want n2->n1 naming n3 in Context", m, m.Context)
		}
	}
	if forwarded != 1 {
		t.Fatalf("%d transfer requests on the network, want 1", forwarded)
	}
}

// The leader takes the target of a peer's request from Context, never from
// the authenticated sender.
func TestLeaderTransfersToTheTargetAPeerNames(t *testing.T) {
	nw := newNetwork(t, ids(3), nil)
	electAndSettle(t, nw, "n1")
	lead := nw.node("n1").rn
	m := wire.Message{Type: wire.MsgTransferLeader, From: "n2", To: "n1", Term: nw.term("n1"), Context: []byte("n3")}
	if err := lead.StepPeer(m); err != nil {
		t.Fatalf("StepPeer(%v): %v", m, err)
	}
	if st := lead.Status(); st.LeadTransferee != "n3" {
		t.Fatalf("lead transferee %q, want n3", st.LeadTransferee)
	}
	nw.stabilize()
	if nw.leader() != "n3" {
		t.Fatalf("leader %q, want n3", nw.leader())
	}
}
