// Package quorum is Raft's majority arithmetic over a set of voters: which
// index a majority has acknowledged, and whether a vote is won, lost or
// still open. It is pure and allocation-free so the core can call it on
// every acknowledgement.
package quorum

import "slices"

// VoteResult is the state of an election tally.
type VoteResult uint8

// The outcomes of a tally.
const (
	// VotePending means neither a majority of grants nor of rejections yet.
	VotePending VoteResult = iota
	// VoteLost means a majority of voters rejected.
	VoteLost
	// VoteWon means a majority of voters granted.
	VoteWon
)

// String returns the result's name.
func (v VoteResult) String() string {
	switch v {
	case VotePending:
		return "VotePending"
	case VoteLost:
		return "VoteLost"
	case VoteWon:
		return "VoteWon"
	}
	return "VoteResult(?)"
}

// Majority returns the number of voters that form a majority of n voters.
// A configuration without voters has no majority; Majority(0) is 1 so that
// nothing is ever decided by zero voters.
func Majority(n int) int { return n/2 + 1 }

// CommittedIndex returns the largest index that at least a majority of the
// voters have acknowledged, given each voter's acknowledged index in
// matches (one entry per voter). It sorts matches in place. With no voters
// it returns 0: nothing is committed by nobody.
func CommittedIndex(matches []uint64) uint64 {
	n := len(matches)
	if n == 0 {
		return 0
	}
	slices.Sort(matches)
	// After an ascending sort, the element at n-Majority(n) is held by
	// Majority(n) voters (itself and everyone after it).
	return matches[n-Majority(n)]
}

// Tally decides an election among voters voters of which granted granted
// and rejected rejected.
func Tally(voters, granted, rejected int) VoteResult {
	if voters == 0 {
		return VoteLost
	}
	q := Majority(voters)
	switch {
	case granted >= q:
		return VoteWon
	case rejected >= q || voters-rejected < q:
		return VoteLost
	}
	return VotePending
}
