//go:build unix

package e2e

import (
	"testing"
	"time"
)

// The lock checker itself must be able to fail: overlapping holdings and
// a token that goes backwards are both reported, and disjoint holdings
// with rising tokens are not.
func TestHoldingViolationsCatchOverlapAndOldTokens(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	good := []holding{
		{owner: "b", token: 9, start: at(100), end: at(200)},
		{owner: "a", token: 4, start: at(0), end: at(100)},
	}
	if v := holdingViolations(good); len(v) != 0 {
		t.Errorf("disjoint holdings with rising tokens were reported: %v", v)
	}
	overlap := []holding{
		{owner: "a", token: 4, start: at(0), end: at(150)},
		{owner: "b", token: 9, start: at(100), end: at(200)},
	}
	if v := holdingViolations(overlap); len(v) != 1 {
		t.Errorf("overlapping holdings: got %v, want one violation", v)
	}
	backwards := []holding{
		{owner: "a", token: 9, start: at(0), end: at(100)},
		{owner: "b", token: 4, start: at(100), end: at(200)},
	}
	if v := holdingViolations(backwards); len(v) != 1 {
		t.Errorf("a fencing token going backwards: got %v, want one violation", v)
	}
	// A grant that arrived after its lease ran out was never used.
	late := []holding{
		{owner: "a", token: 9, start: at(0), end: at(100)},
		{owner: "b", token: 4, start: at(150), end: at(120)},
	}
	if v := holdingViolations(late); len(v) != 0 {
		t.Errorf("an unused late grant was reported: %v", v)
	}
}
