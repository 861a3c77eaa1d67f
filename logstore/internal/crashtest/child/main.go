// Command child writes log batches, hard states and snapshots to the
// durable stores in a directory until it is killed, printing a line before
// and after each write (see package crashtest). With -fill it appends
// until a write fails (a full disk, or the file size limit set with
// -fsize), prints the error and exits.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mandate-raft/mandate/logstore/boltdb"
	"github.com/mandate-raft/mandate/logstore/internal/crashtest"
	"github.com/mandate-raft/mandate/snapshot/file"
	"github.com/mandate-raft/mandate/wire"
)

func main() {
	dir := flag.String("dir", "", "data directory")
	seed := flag.Uint64("seed", 1, "random seed")
	fill := flag.Bool("fill", false, "append until a write fails, then exit")
	fsize := flag.Uint64("fsize", 0, "if > 0: limit the size of files this process writes (RLIMIT_FSIZE)")
	flag.Parse()
	if err := run(*dir, *seed, *fill, *fsize); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
}

// say prints one line with one write call, so a kill never tears a line.
func say(format string, args ...any) {
	_, _ = os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

func run(dir string, seed uint64, fill bool, fsize uint64) error {
	if fsize > 0 {
		// Past the limit a write fails with EFBIG instead of killing us.
		signal.Ignore(syscall.SIGXFSZ)
		lim := &syscall.Rlimit{Cur: fsize, Max: fsize}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, lim); err != nil {
			return fmt.Errorf("setrlimit: %w", err)
		}
	}
	logs, err := boltdb.Open(filepath.Join(dir, "log"), boltdb.Options{})
	if err != nil {
		return err
	}
	defer logs.Close()
	snaps, err := file.Open(filepath.Join(dir, "snap"), file.Options{})
	if err != nil {
		return err
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return err
	}
	last, err := logs.LastIndex()
	if err != nil {
		return err
	}
	hs, _, err := logs.HardState()
	if err != nil {
		return err
	}
	say("ready %d %d", first, last)
	if fill {
		return fillUp(logs, last, hs.Term+1)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	term := hs.Term + 1
	snapIndex := uint64(0)
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		snapIndex = metas[0].Index
	}
	for {
		switch x := r.IntN(100); {
		case x < 8 && last > first+10:
			// Compact, as after a snapshot.
			to := first + uint64(r.IntN(int(last-first)))
			say("intent delete %d", to)
			if err := logs.DeleteBefore(to); err != nil {
				return err
			}
			say("ack delete %d", to)
			first = to
		case x < 25:
			snapIndex += 1 + uint64(r.IntN(100))
			if err := writeSnapshot(snaps, snapIndex, r); err != nil {
				return err
			}
		default:
			start := last + 1
			if x < 30 && last >= 1 && last > first {
				// A new leader replaces a suffix.
				term++
				start = last - uint64(r.IntN(int(min(last-first, 20))))
			}
			if last == 0 {
				start = first + 1
			}
			end := start + uint64(r.IntN(64))
			say("intent append %d %d %d", start, end, term)
			if err := logs.StoreEntries(crashtest.Entries(start, end, term)); err != nil {
				return err
			}
			say("ack append %d %d %d", start, end, term)
			if first == 0 {
				first = start
			}
			last = end
			hs := wire.HardState{Term: term, Vote: "n1", Commit: start}
			say("intent hs %d %d", hs.Term, hs.Commit)
			if err := logs.SetHardState(hs); err != nil {
				return err
			}
			say("ack hs %d %d", hs.Term, hs.Commit)
		}
	}
}

func writeSnapshot(snaps *file.Store, index uint64, r *rand.Rand) error {
	say("intent snapshot %d", index)
	sink, err := snaps.Create(wire.SnapshotMeta{Index: index, Term: 1})
	if err != nil {
		return err
	}
	data := crashtest.SnapshotData(index)
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+r.IntN(256<<10))
		if _, err := sink.Write(data[off : off+n]); err != nil {
			return err
		}
		off += n
	}
	if err := sink.Close(); err != nil {
		return err
	}
	say("ack snapshot %d %s", index, sink.ID())
	return nil
}

// fillUp appends 64-entry batches until a write fails, then reports it.
func fillUp(logs *boltdb.Store, last, term uint64) error {
	for {
		start, end := last+1, last+64
		say("intent append %d %d %d", start, end, term)
		if err := logs.StoreEntries(crashtest.Entries(start, end, term)); err != nil {
			// One line, so that the checker sees the whole message.
			say("full %s", strings.ReplaceAll(err.Error(), "\n", " "))
			return nil
		}
		say("ack append %d %d %d", start, end, term)
		last = end
	}
}
