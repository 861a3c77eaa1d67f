// Package ondisk opens a node's durable log store by the name of its
// engine, and refuses a directory that the other engine wrote: a node
// whose configuration names the wrong engine must fail at start, never
// start with an empty log beside its real one.
package ondisk

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/boltdb"
	"github.com/mandate-raft/mandate/logstore/wal"
)

// The engines.
const (
	// Bolt keeps the log in one bolt file through raft-boltdb: the
	// default.
	Bolt = "bolt"
	// WAL keeps the log in segment files (logstore/wal): one fsync per
	// append instead of bolt's two.
	WAL = "wal"
)

// Engines lists the engine names Open accepts.
var Engines = []string{Bolt, WAL}

// ErrLocked is returned by Open when another process holds the store.
var ErrLocked = errors.New("logstore: the log store is locked by another process")

// ErrWrongEngine is returned by Open when the directory holds a log
// written by another engine than the one asked for.
var ErrWrongEngine = errors.New("logstore: the data directory holds a log of another engine")

// Options tune Open; the zero value is the safe default.
type Options struct {
	// Logger receives the store's warnings. Default: none.
	Logger hclog.Logger
	// LockTimeout is how long Open waits for another process to release
	// the store. Default: 1s.
	LockTimeout time.Duration
	// UnsafeNoSync skips fsync: a crash may lose any write. Benchmarks
	// only.
	UnsafeNoSync bool
	// WALSegmentSize is the wal engine's segment size. Default:
	// wal.DefaultSegmentSize.
	WALSegmentSize int64
}

// Detect returns the engine whose files dir holds, or "" when it holds
// neither (a new node, or a directory that does not exist yet).
func Detect(dir string) (string, error) {
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("logstore: read %s: %w", dir, err)
	}
	var bolt, segs bool
	for _, e := range names {
		switch n := e.Name(); {
		case n == boltdb.FileName:
			bolt = true
		case strings.HasSuffix(n, wal.SegmentSuffix), n == wal.MetaFileName:
			segs = true
		}
	}
	switch {
	case bolt && segs:
		return "", fmt.Errorf("%w: %s holds both a bolt file and segment files: keep the one the node last used", logstore.ErrCorrupt, dir)
	case bolt:
		return Bolt, nil
	case segs:
		return WAL, nil
	}
	return "", nil
}

// Open opens (creating if needed) the log store of engine in dir.
func Open(dir, engine string, opts Options) (logstore.Store, error) {
	found, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	if found != "" && found != engine {
		return nil, fmt.Errorf("%w: %s was written by the %s engine, and the configuration asks for %s: set raft.store to %s (an engine cannot read the other's files)",
			ErrWrongEngine, dir, found, engine, found)
	}
	switch engine {
	case Bolt:
		s, err := boltdb.Open(dir, boltdb.Options{Logger: opts.Logger, LockTimeout: opts.LockTimeout, UnsafeNoSync: opts.UnsafeNoSync})
		if errors.Is(err, boltdb.ErrLocked) {
			return nil, fmt.Errorf("%w: %v", ErrLocked, err)
		}
		return s, err
	case WAL:
		s, err := wal.Open(dir, wal.Options{Logger: opts.Logger, LockTimeout: opts.LockTimeout,
			UnsafeNoSync: opts.UnsafeNoSync, SegmentSize: opts.WALSegmentSize})
		if errors.Is(err, wal.ErrLocked) {
			return nil, fmt.Errorf("%w: %v", ErrLocked, err)
		}
		return s, err
	}
	return nil, fmt.Errorf("logstore: unknown engine %q: want one of %s", engine, strings.Join(Engines, ", "))
}
