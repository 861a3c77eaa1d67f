package tracker

import "testing"

func TestProgressProbeSendsOneAtATime(t *testing.T) {
	pr := NewProgress(5, 4, false)
	if pr.IsPaused() {
		t.Fatal("a fresh probe is paused")
	}
	pr.SentEntries(0, 4) // an empty probe still counts
	if !pr.IsPaused() {
		t.Fatal("probe not paused after sending")
	}
	// The answer unpauses and moves to replicate in the leader.
	if !pr.MaybeUpdate(4) || pr.Match != 4 || pr.Next != 5 || pr.IsPaused() {
		t.Fatalf("after ack: %v", pr)
	}
	if pr.MaybeUpdate(3) {
		t.Fatal("a stale ack updated the progress")
	}
}

func TestProgressReplicatePipelinesUpToTheWindow(t *testing.T) {
	pr := NewProgress(1, 2, false)
	pr.BecomeReplicate()
	pr.SentEntries(3, 3)
	pr.SentEntries(2, 5)
	if pr.Next != 6 || !pr.IsPaused() {
		t.Fatalf("after two sends: %v paused %v, want next 6 and paused", pr, pr.IsPaused())
	}
	pr.MaybeUpdate(3)
	pr.Inflights.FreeLE(3)
	if pr.IsPaused() {
		t.Fatal("still paused after an ack freed a slot")
	}
}

func TestProgressMaybeDecrTo(t *testing.T) {
	cases := []struct {
		name              string
		state             State
		match, next       uint64
		rejected, hint    uint64
		wantOK            bool
		wantNext          uint64
		wantProbeUnpaused bool
	}{
		{"replicate: stale rejection at match", StateReplicate, 5, 10, 5, 5, false, 10, false},
		{"replicate: rejection above match resets to match+1", StateReplicate, 5, 10, 9, 9, true, 6, false},
		{"probe: answer to an older probe", StateProbe, 0, 10, 5, 3, false, 10, false},
		{"probe: back off to the hint", StateProbe, 0, 10, 9, 3, true, 4, true},
		{"probe: hint above the rejected index", StateProbe, 0, 10, 9, 20, true, 9, true},
		{"probe: never below match+1", StateProbe, 5, 10, 9, 2, true, 6, true},
		{"probe: rejection at match is ignored", StateProbe, 9, 10, 9, 2, false, 10, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr := NewProgress(c.next, 4, false)
			pr.Match = c.match
			pr.State = c.state
			if c.state == StateProbe {
				pr.ProbeSent = true
			}
			if got := pr.MaybeDecrTo(c.rejected, c.hint); got != c.wantOK {
				t.Fatalf("MaybeDecrTo = %v, want %v", got, c.wantOK)
			}
			if pr.Next != c.wantNext {
				t.Fatalf("next = %d, want %d", pr.Next, c.wantNext)
			}
			if c.wantProbeUnpaused && pr.ProbeSent {
				t.Fatal("probe still paused after a real rejection")
			}
		})
	}
}

func TestProgressSnapshotTransitions(t *testing.T) {
	pr := NewProgress(3, 4, false)
	pr.Match = 2
	pr.BecomeSnapshot(20)
	if !pr.IsPaused() || pr.PendingSnapshot != 20 {
		t.Fatalf("in snapshot: %v", pr)
	}
	// After the snapshot, probing resumes past it.
	pr.BecomeProbe()
	if pr.Next != 21 || pr.PendingSnapshot != 0 || pr.State != StateProbe {
		t.Fatalf("after snapshot: %v", pr)
	}
	// A failed snapshot (pending cleared first) resumes from the match.
	pr.BecomeSnapshot(20)
	pr.PendingSnapshot = 0
	pr.BecomeProbe()
	if pr.Next != 3 {
		t.Fatalf("after a failed snapshot next = %d, want 3", pr.Next)
	}
}
