//go:build !linux

package wal

import "os"

// reserve does nothing where the space cannot be reserved portably:
// appends grow the file.
func reserve(*os.File, int64) error { return nil }

// holeAt returns size: no hole is known here.
func holeAt(_ *os.File, _, size int64) int64 { return size }

// fdatasync flushes the file.
func fdatasync(f *os.File) error { return f.Sync() }
