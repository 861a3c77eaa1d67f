package wal

import (
	"errors"
	"os"
	"syscall"
)

// reserve makes sure the file has at least size bytes on the disk, so
// that appends within them change no file size and an fdatasync has only
// the data to flush. Where the file system cannot reserve space, it does
// nothing: appends then grow the file.
func reserve(f *os.File, size int64) error {
	if size <= 0 {
		return nil
	}
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return nil
	}
	return err
}

// fdatasync flushes the file's data and what is needed to read it back.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
