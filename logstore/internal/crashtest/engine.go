package crashtest

import (
	"path/filepath"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/ondisk"
)

// WALSegmentSize is the segment size the wal engine runs with here: about
// a hundred entries, so that kills land in segment rotations, in cuts that
// remove whole segments and in compactions that drop them.
const WALSegmentSize = 16 << 10

// OpenLog opens the log store of engine (an ondisk engine name) in dir's
// "log" subdirectory.
func OpenLog(engine, dir string) (logstore.Store, error) {
	return ondisk.Open(filepath.Join(dir, "log"), engine, ondisk.Options{WALSegmentSize: WALSegmentSize})
}
