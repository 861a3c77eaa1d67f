package crashtest

import (
	"fmt"
	"path/filepath"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/boltdb"
	"github.com/mandate-raft/mandate/logstore/wal"
)

// The log store engines the child can write to, by the name its -engine
// flag takes.
const (
	// EngineBolt is logstore/boltdb: a write is one bolt transaction, so
	// a crash leaves the old log or the new one.
	EngineBolt = "bolt"
	// EngineWAL is logstore/wal: a batch that replaces a suffix is a cut,
	// then an append, so a crash may also leave a prefix of the old log
	// (see the wal package comment).
	EngineWAL = "wal"
)

// Engines lists every engine, EngineBolt first.
var Engines = []string{EngineBolt, EngineWAL}

// WALSegmentSize is the segment size the wal engine runs with here: about
// a hundred entries, so that kills land in segment rotations, in cuts that
// remove whole segments and in compactions that drop them.
const WALSegmentSize = 16 << 10

// OpenLog opens the log store of engine in dir's "log" subdirectory.
func OpenLog(engine, dir string) (logstore.Store, error) {
	path := filepath.Join(dir, "log")
	// Each case returns a nil interface on failure, not a typed nil.
	switch engine {
	case EngineBolt:
		s, err := boltdb.Open(path, boltdb.Options{})
		if err != nil {
			return nil, err
		}
		return s, nil
	case EngineWAL:
		s, err := wal.Open(path, wal.Options{SegmentSize: WALSegmentSize})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("unknown log store engine %q (want %q or %q)", engine, EngineBolt, EngineWAL)
	}
}
