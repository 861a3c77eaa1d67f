//go:build !linux

package wal

import "os"

// reserve does nothing where the space cannot be reserved portably:
// appends grow the file.
func reserve(*os.File, int64) error { return nil }

// fdatasync flushes the file.
func fdatasync(f *os.File) error { return f.Sync() }
