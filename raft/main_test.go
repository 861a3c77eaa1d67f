package raft

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: nodes, stages, transports.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
