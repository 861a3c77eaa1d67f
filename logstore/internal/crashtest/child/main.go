// Command child writes log batches, hard states and snapshots to the
// durable stores in a directory until it is killed, printing a line before
// and after each write (see package crashtest). -engine picks the log
// store (ondisk.Engines). With -fill it appends until a write fails (a
// full disk, or the file size limit set with -fsize), prints the error and
// exits.
//
// An append line reads "append START END TERM REP": the batch holds
// [START, END]; the entries below REP are copies of the stored ones (a
// leader sending again what the follower has), those from REP on are new
// ones of TERM.
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

	"github.com/mandate-raft/mandate/logstore"
	"github.com/mandate-raft/mandate/logstore/internal/crashtest"
	"github.com/mandate-raft/mandate/logstore/ondisk"
	"github.com/mandate-raft/mandate/snapshot/file"
	"github.com/mandate-raft/mandate/wire"
)

func main() {
	dir := flag.String("dir", "", "data directory")
	seed := flag.Uint64("seed", 1, "random seed")
	fill := flag.Bool("fill", false, "append until a write fails, then exit")
	fsize := flag.Uint64("fsize", 0, "if > 0: limit the size of files this process writes (RLIMIT_FSIZE)")
	engine := flag.String("engine", ondisk.Bolt, "log store: bolt or wal")
	flag.Parse()
	if err := run(*engine, *dir, *seed, *fill, *fsize); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
}

// say prints one line with one write call, so a kill never tears a line.
func say(format string, args ...any) {
	_, _ = os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

func run(engine, dir string, seed uint64, fill bool, fsize uint64) error {
	if fsize > 0 {
		// Past the limit a write fails with EFBIG instead of killing us.
		signal.Ignore(syscall.SIGXFSZ)
		lim := &syscall.Rlimit{Cur: fsize, Max: fsize}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, lim); err != nil {
			return fmt.Errorf("setrlimit: %w", err)
		}
	}
	logs, err := crashtest.OpenLog(engine, dir)
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
			start, end, rep := last+1, last+1+uint64(r.IntN(64)), last+1
			if last == 0 {
				start = first + 1
				end, rep = start+uint64(r.IntN(64)), start
			}
			if x < 35 && last != 0 {
				// A new leader replaces a suffix.
				term++
				start, end, rep = replacement(r, first, last)
			}
			entries, err := batch(logs, start, end, term, rep)
			if err != nil {
				return err
			}
			say("intent append %d %d %d %d", start, end, term, rep)
			if err := logs.StoreEntries(entries); err != nil {
				return err
			}
			say("ack append %d %d %d %d", start, end, term, rep)
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

// replacement picks a batch [start, end] that replaces the suffix of the
// log [first, last] from start on: it reaches back up to about three wal
// segments (one time in eight, to the first entry: the whole log), half
// of the time repeats stored entries below rep before its new ones, and a
// third of the time ends before last (the log gets shorter, with no new
// entry at all if it also repeats up to its end).
func replacement(r *rand.Rand, first, last uint64) (start, end, rep uint64) {
	start = last - uint64(r.IntN(int(min(last-first+1, 300))))
	if r.IntN(8) == 0 {
		start = first
	}
	rep = start
	if r.IntN(2) == 0 {
		rep = start + 1 + uint64(r.IntN(int(last-start+1))) // in (start, last+1]
	}
	end = start + uint64(r.IntN(64))
	if r.IntN(3) == 0 {
		end = start + uint64(r.IntN(int(last-start+1))) // in [start, last]
	}
	return start, end, min(rep, end+1)
}

// batch returns the entries [start, end]: copies of the stored ones below
// rep, then new ones of term.
func batch(logs logstore.Store, start, end, term, rep uint64) ([]wire.Entry, error) {
	entries, err := logs.Entries(start, rep, 0)
	if err != nil {
		return nil, fmt.Errorf("read the entries [%d, %d) to send again: %w", start, rep, err)
	}
	if rep <= end {
		entries = append(entries, crashtest.Entries(rep, end, term)...)
	}
	return entries, nil
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
func fillUp(logs logstore.Store, last, term uint64) error {
	for {
		start, end := last+1, last+64
		say("intent append %d %d %d %d", start, end, term, start)
		if err := logs.StoreEntries(crashtest.Entries(start, end, term)); err != nil {
			// One line, so that the checker sees the whole message.
			say("full %s", strings.ReplaceAll(err.Error(), "\n", " "))
			return nil
		}
		say("ack append %d %d %d %d", start, end, term, start)
		last = end
	}
}
