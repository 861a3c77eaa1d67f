package durable

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// MkdirAll syncs the parent of every directory it creates, top down, and
// nothing for directories that were there.
func TestMkdirAllSyncsTheParentOfEachDirectoryItCreates(t *testing.T) {
	root := t.TempDir()
	var synced []string
	record := func(d string) error { synced = append(synced, d); return SyncDir(d) }
	dir := filepath.Join(root, "a", "b", "c")
	if err := MkdirAll(dir, record); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("%s not created: %v", dir, err)
	}
	want := []string{root, filepath.Join(root, "a"), filepath.Join(root, "a", "b")}
	if !slices.Equal(synced, want) {
		t.Fatalf("synced %v, want %v", synced, want)
	}
	synced = nil
	if err := MkdirAll(dir, record); err != nil || len(synced) != 0 {
		t.Fatalf("MkdirAll of an existing directory: err %v, synced %v; want nothing", err, synced)
	}
}
