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

// seekHole is lseek's SEEK_HOLE.
const seekHole = 4

// holeAt returns the start of the first hole at or after off: a range the
// file system reports as never written (ext4 and XFS report reserved,
// unwritten space so), or size when it reports none.
func holeAt(f *os.File, off, size int64) int64 {
	h, err := f.Seek(off, seekHole)
	if err != nil || h > size {
		return size
	}
	return h
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
