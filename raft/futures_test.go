package raft

import (
	"context"
	"errors"
	"testing"
)

func newTestProposal(id uint64) *proposal {
	return &proposal{id: id, ch: make(chan outcome, 1)}
}

func TestRegistryAbandonBeforeClaimIsNotCommitted(t *testing.T) {
	r := newRegistry()
	p := newTestProposal(1)
	if err := r.add(p); err != nil {
		t.Fatal(err)
	}
	o := r.abandon(p, context.Canceled)
	if !errors.Is(o.err, ErrNotCommitted) || !errors.Is(o.err, context.Canceled) {
		t.Fatalf("abandon before claim: got %v, want not committed wrapping context.Canceled", o.err)
	}
	if r.claim(p, 0) {
		t.Fatal("an abandoned proposal was claimed: it would be proposed although its caller was told it was not")
	}
}

func TestRegistryAbandonAfterClaimIsUnknown(t *testing.T) {
	r := newRegistry()
	p := newTestProposal(1)
	_ = r.add(p)
	if !r.claim(p, 3) {
		t.Fatal("claim failed")
	}
	o := r.abandon(p, context.DeadlineExceeded)
	var unk *OutcomeUnknownError
	if !errors.As(o.err, &unk) || !errors.Is(o.err, ErrOutcomeUnknown) || !errors.Is(o.err, context.DeadlineExceeded) {
		t.Fatalf("abandon after claim: got %v, want outcome unknown wrapping the deadline", o.err)
	}
}

func TestRegistryDeliversExactlyOnce(t *testing.T) {
	r := newRegistry()
	p := newTestProposal(7)
	_ = r.add(p)
	r.claim(p, 0)
	r.resolve(7, outcome{applied: Applied{Index: 5}})
	r.resolve(7, outcome{err: errors.New("second")})
	r.failHanded(10, ErrLeadershipLost)
	r.close(ErrShutdown)
	o := r.abandon(p, context.Canceled)
	if o.err != nil || o.applied.Index != 5 {
		t.Fatalf("got %+v, want the first outcome (index 5)", o)
	}
	select {
	case extra := <-p.ch:
		t.Fatalf("a second outcome was delivered: %+v", extra)
	default:
	}
}

func TestRegistryFailHandedOnlyOlderEpochs(t *testing.T) {
	r := newRegistry()
	old, cur, waiting := newTestProposal(1), newTestProposal(2), newTestProposal(3)
	for _, p := range []*proposal{old, cur, waiting} {
		_ = r.add(p)
	}
	r.claim(old, 1)
	r.claim(cur, 2)
	r.failHanded(2, ErrLeadershipLost)
	select {
	case o := <-old.ch:
		if !errors.Is(o.err, ErrOutcomeUnknown) || !errors.Is(o.err, ErrLeadershipLost) {
			t.Fatalf("old epoch: got %v", o.err)
		}
	default:
		t.Fatal("proposal of an older epoch was not failed")
	}
	for _, p := range []*proposal{cur, waiting} {
		select {
		case o := <-p.ch:
			t.Fatalf("proposal %d failed too early: %v", p.id, o.err)
		default:
		}
	}
}

func TestRegistryCloseSeparatesHandedFromWaiting(t *testing.T) {
	r := newRegistry()
	handed, waiting := newTestProposal(1), newTestProposal(2)
	_ = r.add(handed)
	_ = r.add(waiting)
	r.claim(handed, 0)
	r.close(ErrShutdown)
	if o := <-handed.ch; !errors.Is(o.err, ErrOutcomeUnknown) || !errors.Is(o.err, ErrShutdown) {
		t.Fatalf("handed: got %v, want unknown (shutdown)", o.err)
	}
	if o := <-waiting.ch; !errors.Is(o.err, ErrNotCommitted) || !errors.Is(o.err, ErrShutdown) {
		t.Fatalf("waiting: got %v, want not committed (shutdown)", o.err)
	}
	if err := r.add(newTestProposal(3)); !errors.Is(err, ErrShutdown) {
		t.Fatalf("add after close: got %v, want ErrShutdown", err)
	}
}

func TestErrorTypesAreDistinct(t *testing.T) {
	nl := &NotLeaderError{LeaderID: "n2", LeaderAddress: "a2"}
	nc := notCommitted(nl)
	if !errors.Is(nc, ErrNotCommitted) || !errors.Is(nc, ErrNotLeader) || errors.Is(nc, ErrOutcomeUnknown) {
		t.Fatalf("not-committed error matches wrongly: %v", nc)
	}
	var got *NotLeaderError
	if !errors.As(nc, &got) || got.LeaderAddress != "a2" {
		t.Fatalf("errors.As did not find the leader: %v", nc)
	}
	ou := outcomeUnknown(ErrShutdown)
	if !errors.Is(ou, ErrOutcomeUnknown) || errors.Is(ou, ErrNotCommitted) || !errors.Is(ou, ErrShutdown) {
		t.Fatalf("outcome-unknown error matches wrongly: %v", ou)
	}
}

func TestRegistryIndexWaitersResolveByTheEntryApplied(t *testing.T) {
	r := newRegistry()
	mine, replaced, skipped := newTestProposal(1), newTestProposal(2), newTestProposal(3)
	for i, p := range []*proposal{mine, replaced, skipped} {
		_ = r.add(p)
		r.claim(p, 0)
		r.awaitIndex(p, uint64(10+i), 4)
	}
	r.appliedIndex(10, 4) // the entry this proposal became
	r.appliedIndex(11, 5) // another leader's entry took index 11
	r.skippedTo(12)       // a snapshot covered index 12
	if o := <-mine.ch; o.err != nil || o.applied.Index != 10 {
		t.Fatalf("committed change: %+v", o)
	}
	if o := <-replaced.ch; !errors.Is(o.err, ErrNotCommitted) {
		t.Fatalf("replaced change: %v, want not committed", o.err)
	}
	if o := <-skipped.ch; !errors.Is(o.err, ErrOutcomeUnknown) {
		t.Fatalf("change under a snapshot: %v, want outcome unknown", o.err)
	}
	if r.waitingForIndex() {
		t.Fatal("waiters left behind")
	}
}
