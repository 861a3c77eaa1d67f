package memory_test

import (
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
	"github.com/mandate-raft/mandate/logstore/memory"
)

func TestConformance(t *testing.T) {
	logstoretest.Run(t, func(t *testing.T) logstore.Store { return memory.New() })
}
