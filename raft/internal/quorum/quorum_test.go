package quorum

import "testing"

func TestMajority(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 7: 4} {
		if got := Majority(n); got != want {
			t.Errorf("Majority(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestCommittedIndexIsWhatAMajorityHolds(t *testing.T) {
	cases := []struct {
		matches []uint64
		want    uint64
	}{
		{nil, 0},
		{[]uint64{5}, 5},
		{[]uint64{5, 3}, 3},
		{[]uint64{1, 2, 3}, 2},
		{[]uint64{3, 3, 1}, 3},
		{[]uint64{9, 1, 1}, 1},
		{[]uint64{4, 8, 6, 2}, 4},
		{[]uint64{10, 9, 8, 7, 1}, 8},
		{[]uint64{0, 0, 7, 7, 7}, 7},
	}
	for _, c := range cases {
		m := append([]uint64(nil), c.matches...)
		if got := CommittedIndex(m); got != c.want {
			t.Errorf("CommittedIndex(%v) = %d, want %d", c.matches, got, c.want)
		}
	}
}

func TestTallyDecidesOnlyWithAMajority(t *testing.T) {
	cases := []struct {
		voters, granted, rejected int
		want                      VoteResult
	}{
		{0, 0, 0, VoteLost},
		{1, 1, 0, VoteWon},
		{1, 0, 0, VotePending},
		{3, 1, 0, VotePending},
		{3, 2, 0, VoteWon},
		{3, 1, 1, VotePending},
		{3, 1, 2, VoteLost},
		{4, 2, 1, VotePending},
		{4, 2, 2, VoteLost},
		{4, 3, 1, VoteWon},
		{5, 2, 2, VotePending},
		{5, 2, 3, VoteLost},
	}
	for _, c := range cases {
		if got := Tally(c.voters, c.granted, c.rejected); got != c.want {
			t.Errorf("Tally(%d, %d, %d) = %v, want %v", c.voters, c.granted, c.rejected, got, c.want)
		}
	}
}
