package crashtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/mandate-raft/mandate/logstore/boltdb"
	"github.com/mandate-raft/mandate/logstore/ondisk"
)

// fillAndCheck runs the child in -fill mode on the log store of engine: it
// appends until a write fails. The failure must be reported with the
// file's path and cause, and the store must then hold exactly the
// acknowledged batches.
func fillAndCheck(t *testing.T, engine, dir string, args []string, wantCause string) {
	t.Helper()
	bin := buildChild(t)
	out, err := exec.Command(bin, append([]string{"-engine", engine, "-dir", dir, "-fill"}, args...)...).Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	m := &model{terms: map[uint64]uint64{}}
	if _, err := m.run(out); err != nil {
		t.Fatal(err)
	}
	var full string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "full ") {
			full = line
		}
	}
	if m.last == 0 {
		t.Fatalf("no batch was acknowledged before the disk filled:\n%s", out)
	}
	// The file that could not grow: bolt's database, or a wal segment
	// (one is created, its space reserved, when the last one is full).
	logPath := regexp.QuoteMeta(filepath.Join(dir, "log", boltdb.FileName))
	if engine == ondisk.WAL {
		logPath = regexp.QuoteMeta(filepath.Join(dir, "log")+string(filepath.Separator)) + `[0-9]{20}\.wal`
	}
	if !regexp.MustCompile(logPath).MatchString(full) || !strings.Contains(full, wantCause) {
		t.Fatalf("the failed write said %q; want the path %s and %q", full, logPath, wantCause)
	}
	if _, err := checkLog(engine, dir, []*model{m}); err != nil {
		t.Fatalf("after the full disk: %v", err)
	}
	t.Logf("%d entries acknowledged before: %s", m.last, full)
}

// TestFileSizeLimitFailsTheWriteAndKeepsTheLog runs on bolt only: the
// limit is per file, and a wal segment holds no more than the size it
// reserves when it is created (unless one batch is bigger), so a limit
// above that size is never reached and one below it fails the first
// segment, before any append is acknowledged.
func TestFileSizeLimitFailsTheWriteAndKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	fillAndCheck(t, ondisk.Bolt, dir, []string{"-fsize", "4194304"}, "file too large")
	// With room again, the log goes on.
	s, err := boltdb.Open(filepath.Join(dir, "log"), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	last, _ := s.LastIndex()
	if err := s.StoreEntries(Entries(last+1, last+10, 99)); err != nil {
		t.Fatalf("append after the limit is gone: %v", err)
	}
}

// TestFullDiskFailsTheWriteAndKeepsTheLog fills a real 4 MiB tmpfs with
// each engine's log. It needs the right to mount, so it runs only as root
// where mount works.
func TestFullDiskFailsTheWriteAndKeepsTheLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) { fillDisk(t, engine) })
	}
}

func fillDisk(t *testing.T, engine string) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	fillAndCheck(t, engine, mnt, nil, syscall.ENOSPC.Error())
	// Nothing is lost when the full store is reopened and read again.
	s, err := OpenLog(engine, mnt)
	if err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("reopen on the full disk: %v", err)
	}
	if err == nil {
		s.Close()
	}
}
