package boltdb

import (
	"testing"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/logstoretest"
)

func benchOpen(opts Options) func(b *testing.B) logstore.Store {
	return func(b *testing.B) logstore.Store {
		s, err := Open(b.TempDir(), opts)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
}

// BenchmarkStoreEntries measures durable appends (fsync on).
func BenchmarkStoreEntries(b *testing.B) { logstoretest.BenchStoreEntries(b, benchOpen(Options{})) }

// BenchmarkStoreEntriesNoSync is the same without fsync: the CPU cost of
// encoding and bolt, apart from the disk's.
func BenchmarkStoreEntriesNoSync(b *testing.B) {
	logstoretest.BenchStoreEntries(b, benchOpen(Options{UnsafeNoSync: true}))
}

// BenchmarkEntries measures reads served by the cache of recent entries.
func BenchmarkEntries(b *testing.B) {
	logstoretest.BenchEntries(b, benchOpen(Options{UnsafeNoSync: true}))
}

// BenchmarkEntriesFromBolt is the same with every read going to bolt.
func BenchmarkEntriesFromBolt(b *testing.B) {
	logstoretest.BenchEntries(b, benchOpen(Options{UnsafeNoSync: true, CacheEntries: -1}))
}
