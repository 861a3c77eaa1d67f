package wal

import (
	"path/filepath"
	"slices"
	"testing"
)

// The segments and the meta file are made durable in the store's
// directory, but a directory Open creates must itself be made durable in
// its parent (and a parent Open creates in its own): otherwise a power
// failure can lose the whole directory, with every entry and vote the
// store acknowledged in it.
func TestOpenMakesTheDirectoriesItCreatesDurable(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	var synced []string
	t.Cleanup(func() { syncDir = syncDirOS })
	syncDir = func(d string) error {
		synced = append(synced, d)
		return syncDirOS(d)
	}
	s := openClean(t, dir, Options{})
	syncDir = syncDirOS
	for _, parent := range []string{root, filepath.Join(root, "a")} {
		if !slices.Contains(synced, parent) {
			t.Fatalf("Open created %s but did not sync %s (synced %v)", dir, parent, synced)
		}
	}
	closeT(t, s)

	// A directory that exists already needs nothing more.
	synced = nil
	syncDir = func(d string) error {
		synced = append(synced, d)
		return syncDirOS(d)
	}
	openClean(t, dir, Options{})
	syncDir = syncDirOS
	if slices.Contains(synced, root) || slices.Contains(synced, filepath.Join(root, "a")) {
		t.Fatalf("Open of an existing directory synced its parents: %v", synced)
	}
}
