package daemon

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/logstore/ondisk"
)

// The stores make what they write durable inside their directories, but
// a directory's own name is durable only once its parent is synced: the
// data directory and the raft and snapshots directories the daemon
// creates must each be synced into their parent, or a power failure can
// take a node's whole state (its votes and acknowledged entries) with
// them. So on each engine.
func TestOpenStoresMakesTheDirectoriesItCreatesDurable(t *testing.T) {
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) {
			root := t.TempDir()
			data := filepath.Join(root, "a", "data")
			var synced []string
			t.Cleanup(func() { syncDir = syncDirOS })
			// data counts as synced only once it holds both stores'
			// directories.
			syncDir = func(d string) error {
				d = filepath.Clean(d)
				_, raftErr := os.Stat(filepath.Join(data, "raft"))
				_, snapErr := os.Stat(filepath.Join(data, "snapshots"))
				if d != data || raftErr == nil && snapErr == nil {
					synced = append(synced, d)
				}
				return syncDirOS(d)
			}
			d := &Daemon{opts: Options{Store: engine, DataDir: data, ClusterID: "c", SnapshotRetain: 2,
				Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})}}
			if err := d.openStores(); err != nil {
				t.Fatal(err)
			}
			syncDir = syncDirOS
			if err := d.store.Close(); err != nil {
				t.Fatal(err)
			}
			for _, parent := range []string{root, filepath.Join(root, "a"), data} {
				if !slices.Contains(synced, parent) {
					t.Errorf("the daemon created %s but did not sync %s (synced %v)", data, parent, synced)
				}
			}
		})
	}
}
