// Package durable makes names in the file system survive a power failure.
// Writing a file and syncing it makes its content durable, not its name: a
// file or directory created, renamed or removed is durable only once the
// directory holding it is synced.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir makes the entries of dir durable: the files and directories
// created, renamed and removed in it.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// MkdirAll creates dir and its missing parents with mode 0700 and, unless
// syncDir is nil, calls it on the parent of each directory it created,
// from the top down, so that the new names are durable. Directories that
// exist already cost nothing.
func MkdirAll(dir string, syncDir func(string) error) error {
	var created []string // deepest first
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if syncDir == nil {
		return nil
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := syncDir(filepath.Dir(created[i])); err != nil {
			return err
		}
	}
	return nil
}
