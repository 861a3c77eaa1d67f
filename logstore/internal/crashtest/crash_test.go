package crashtest

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/logstore/ondisk"
	"github.com/mandate-raft/mandate/snapshot/file"
	"github.com/mandate-raft/mandate/wire"
)

// buildChild compiles ./child into a temporary directory.
func buildChild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the child process")
	}
	bin := filepath.Join(t.TempDir(), "child")
	out, err := exec.Command(goBin, "build", "-o", bin, "./child").CombinedOutput()
	if err != nil {
		t.Fatalf("building the child: %v\n%s", err, out)
	}
	return bin
}

// model is what the child was told is durable, and the one write (if any)
// it had started when it died.
type model struct {
	first, last uint64
	terms       map[uint64]uint64 // index -> term for [first, last]
	hs          *wire.HardState
	snapIndex   uint64
	snapID      string
}

func (m *model) clone() *model {
	c := *m
	c.terms = make(map[uint64]uint64, len(m.terms))
	for k, v := range m.terms {
		c.terms[k] = v
	}
	return &c
}

// apply applies one "intent" or "ack" line's operation.
func (m *model) apply(f []string) error {
	num := func(i int) uint64 {
		n, _ := strconv.ParseUint(f[i], 10, 64)
		return n
	}
	switch f[1] {
	case "append":
		start, end := num(2), num(3)
		for i := start; i <= end; i++ {
			m.terms[i] = batchTerm(f, m, i)
		}
		for i := end + 1; i <= m.last; i++ {
			delete(m.terms, i)
		}
		if m.first == 0 {
			m.first = start
		}
		m.last = end
	case "delete":
		to := num(2)
		for i := m.first; i < to; i++ {
			delete(m.terms, i)
		}
		m.first = to
	case "hs":
		m.hs = &wire.HardState{Term: num(2), Vote: "n1", Commit: num(3)}
	case "snapshot":
		if len(f) > 3 {
			m.snapIndex, m.snapID = num(2), f[3]
		}
	default:
		return fmt.Errorf("unknown operation %q", f[1])
	}
	return nil
}

// batchTerm returns the term of the entry at index i (within the batch) in
// the batch of the append line f, on the log m held before the batch: the
// entries below the line's REP field repeat the stored ones.
func batchTerm(f []string, m *model, i uint64) uint64 {
	rep, _ := strconv.ParseUint(f[5], 10, 64)
	if i < rep {
		return m.terms[i]
	}
	term, _ := strconv.ParseUint(f[4], 10, 64)
	return term
}

// changedFrom returns the first index whose entry the batch of the append
// line f changes in the log m: the first in the batch whose term differs
// from m's at that index (same index and term mean the same bytes, see
// EntryData), or the batch's end+1 if there is none.
func changedFrom(f []string, m *model) uint64 {
	start, _ := strconv.ParseUint(f[2], 10, 64)
	end, _ := strconv.ParseUint(f[3], 10, 64)
	for i := start; i <= end; i++ {
		if t, ok := m.terms[i]; !ok || t != batchTerm(f, m, i) {
			return i
		}
	}
	return end + 1
}

// prefix returns m cut to [m.first, last], or to the empty log if last is
// below m.first.
func (m *model) prefix(last uint64) *model {
	c := m.clone()
	for i := last + 1; i <= m.last; i++ {
		delete(c.terms, i)
	}
	c.last = last
	if last < m.first {
		c.first, c.last = 0, 0
	}
	return c
}

// candidates returns the states the log store of engine may be in after a
// kill: m, and if pending (an intent line) is set, also m with it applied.
// A wal append is not atomic (logstore/wal's package comment): one that
// replaces stored entries may stop after its cut, or part way through it
// (it removes whole segments from the last backwards, then truncates the
// one holding the cut), leaving a prefix of m ending anywhere from just
// before the first index the batch changes to m's end; and the write of
// the batch may leave its first entries, after m up to that index. Every
// other write, and every bolt write, is atomic.
func candidates(engine string, m *model, pending []string) ([]*model, error) {
	out := []*model{m}
	if pending == nil {
		return out, nil
	}
	after := m.clone()
	if err := after.apply(pending); err != nil {
		return nil, err
	}
	out = append(out, after)
	if engine != ondisk.WAL || pending[1] != "append" {
		return out, nil
	}
	from := changedFrom(pending, m)
	end, _ := strconv.ParseUint(pending[3], 10, 64)
	for q := from; q < end; q++ {
		out = append(out, after.prefix(q))
	}
	if m.last == 0 {
		return out, nil
	}
	if from <= m.first {
		out = append(out, m.prefix(0))
		from = m.first
	}
	for last := from - 1; last < m.last; last++ {
		if last >= m.first {
			out = append(out, m.prefix(last))
		}
	}
	return out, nil
}

// run feeds the child's output into the model and returns the operation
// it had started but not finished, if any.
func (m *model) run(out []byte) (pending []string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "intent":
			pending = f
		case "ack":
			if err := m.apply(f); err != nil {
				return nil, err
			}
			pending = nil
		case "ready", "full":
		case "error":
			return nil, fmt.Errorf("child failed: %s", sc.Text())
		}
	}
	return pending, sc.Err()
}

// checkLog opens the log store of engine and returns which of the
// candidate models it holds exactly (every entry intact), or an error.
func checkLog(engine, dir string, candidates []*model) (*model, error) {
	s, err := OpenLog(engine, dir)
	if err != nil {
		return nil, fmt.Errorf("reopen after kill: %w", err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	var entries []wire.Entry
	if last != 0 {
		if entries, err = s.Entries(first, last+1, 0); err != nil {
			return nil, fmt.Errorf("read log [%d, %d]: %w", first, last, err)
		}
	}
	hs, hasHS, err := s.HardState()
	if err != nil {
		return nil, fmt.Errorf("read hard state: %w", err)
	}
	var why []string
	for _, c := range candidates {
		if reason := matches(c, first, last, entries, hs, hasHS); reason != "" {
			why = append(why, reason)
			continue
		}
		return c, nil
	}
	return nil, fmt.Errorf("the store (log [%d, %d], hard state %+v) matches no acknowledged state: %s",
		first, last, hs, strings.Join(why, "; "))
}

func matches(c *model, first, last uint64, entries []wire.Entry, hs wire.HardState, hasHS bool) string {
	if first != c.first || last != c.last {
		return fmt.Sprintf("bounds [%d, %d], want [%d, %d]", first, last, c.first, c.last)
	}
	if last != 0 && uint64(len(entries)) != last-first+1 {
		return fmt.Sprintf("read %d entries from [%d, %d]", len(entries), first, last)
	}
	for i, e := range entries {
		if e.Index != first+uint64(i) {
			return fmt.Sprintf("entry %d read back as index %d", first+uint64(i), e.Index)
		}
		if e.Term != c.terms[e.Index] || !bytes.Equal(e.Data, EntryData(e.Index, e.Term)) {
			return fmt.Sprintf("entry %d has term %d, want %d", e.Index, e.Term, c.terms[e.Index])
		}
	}
	if c.hs != nil && (!hasHS || hs != *c.hs) {
		return fmt.Sprintf("hard state %+v, want %+v", hs, *c.hs)
	}
	return ""
}

// checkSnapshots opens the snapshot store: every listed snapshot must read
// back intact, and the last acknowledged one must be there. It returns the
// newest listed snapshot, which may be newer than the acknowledged one (a
// Close that returned just before the kill).
func checkSnapshots(dir string, m *model) (wire.SnapshotMeta, error) {
	metas, err := listAndRead(dir, m)
	if err != nil || len(metas) == 0 {
		return wire.SnapshotMeta{}, err
	}
	return metas[0], nil
}

func listAndRead(dir string, m *model) ([]wire.SnapshotMeta, error) {
	s, err := file.Open(filepath.Join(dir, "snap"), file.Options{})
	if err != nil {
		return nil, fmt.Errorf("reopen snapshots after kill: %w", err)
	}
	metas, err := s.List()
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	found := m.snapID == ""
	for _, meta := range metas {
		_, r, err := s.Open(meta.ID)
		if err != nil {
			return nil, fmt.Errorf("open listed snapshot %s: %w", meta.ID, err)
		}
		data, err := readAll(r)
		if err != nil {
			return nil, fmt.Errorf("read listed snapshot %s: %w", meta.ID, err)
		}
		if !bytes.Equal(data, snapshotData(meta.Index)) {
			return nil, fmt.Errorf("snapshot %s reads back wrong data", meta.ID)
		}
		found = found || meta.ID == m.snapID
	}
	if !found {
		return nil, fmt.Errorf("acknowledged snapshot %s is missing; listed %+v", m.snapID, metas)
	}
	if len(metas) > 0 && metas[0].Index < m.snapIndex {
		return nil, fmt.Errorf("newest listed snapshot is at %d, older than the acknowledged %d", metas[0].Index, m.snapIndex)
	}
	return metas, nil
}

// snapshotData memoizes SnapshotData: the same snapshots are checked after
// many kills.
var snapshotData = func() func(uint64) []byte {
	memo := map[uint64][]byte{}
	return func(index uint64) []byte {
		if d, ok := memo[index]; ok {
			return d
		}
		d := SnapshotData(index)
		memo[index] = d
		return d
	}
}()

func readAll(r interface {
	Read([]byte) (int, error)
	Close() error
}) ([]byte, error) {
	defer r.Close()
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// TestKillNineKeepsEveryAcknowledgedWrite kills the child with SIGKILL at
// random moments, writing to each log store engine in turn (the same kill
// schedule for each). Iterations per engine: 50, or MANDATE_CRASH_ITERS.
func TestKillNineKeepsEveryAcknowledgedWrite(t *testing.T) {
	iters := 50
	if v := os.Getenv("MANDATE_CRASH_ITERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MANDATE_CRASH_ITERS=%q is not a positive number", v)
		}
		iters = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("MANDATE_CRASH_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (replay the kill schedule with MANDATE_CRASH_SEED=%d)", seed, seed)
	built := time.Now()
	bin := buildChild(t)
	t.Logf("child built in %v", time.Since(built).Round(time.Millisecond))
	for _, engine := range ondisk.Engines {
		t.Run(engine, func(t *testing.T) { killNine(t, bin, engine, iters, seed) })
	}
}

func killNine(t *testing.T, bin, engine string, iters int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	m := &model{terms: map[uint64]uint64{}}
	acks := 0
	midWrite := map[string]int{}
	// What the store held after kills during a replacing append: the old
	// log, the new one, or (wal only) a prefix of the old one.
	var keptOld, tookNew, cutShort, partBatch int
	for i := range iters {
		out, err := runAndKill(bin, engine, dir, r.Uint64(), time.Duration(r.IntN(40_000))*time.Microsecond)
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		acks += bytes.Count(out, []byte("\nack "))
		pending, err := m.run(out)
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if pending != nil {
			midWrite[pending[1]]++
		}
		cands, err := candidates(engine, m, pending)
		if err != nil {
			t.Fatal(err)
		}
		got, err := checkLog(engine, dir, cands)
		if err != nil {
			t.Fatalf("kill %d (pending %q): %v", i, pending, err)
		}
		if pending != nil && pending[1] == "append" {
			switch {
			case got == cands[0]:
				keptOld++
			case got == cands[1]:
				tookNew++
			case got.last >= changedFrom(pending, m):
				partBatch++
			default:
				cutShort++
			}
		}
		newest, err := checkSnapshots(dir, m)
		if err != nil {
			t.Fatalf("kill %d (pending %q): %v", i, pending, err)
		}
		// The state found is what the next child builds on. A snapshot
		// whose Close returned just before the kill is as good as
		// acknowledged: retention may prune older ones because of it.
		m = got
		m.snapIndex, m.snapID = newest.Index, newest.ID
	}
	if acks == 0 {
		t.Fatal("the child never completed a write: the kills test nothing")
	}
	t.Logf("%d kills, %d acknowledged writes, kills during a write by kind %v; "+
		"kills during an append left the old log %d, the new %d, a cut one %d, the first part of the batch %d times; final log [%d, %d]",
		iters, acks, midWrite, keptOld, tookNew, cutShort, partBatch, m.first, m.last)
}

// runAndKill starts the child and SIGKILLs it after delay (counted from
// its "ready" line for most runs, from its start for the others, so that
// opening the stores is killed too). It returns everything it printed.
func runAndKill(bin, engine, dir string, seed uint64, delay time.Duration) ([]byte, error) {
	cmd := exec.Command(bin, "-engine", engine, "-dir", dir, "-seed", strconv.FormatUint(seed, 10))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		br := bufio.NewReader(stdout)
		first := true
		for {
			line, err := br.ReadBytes('\n')
			out.Write(line)
			if first && err == nil {
				first = false
				close(ready)
			}
			if err != nil {
				done <- nil
				return
			}
		}
	}()
	if seed%5 != 0 {
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
		}
	}
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	werr := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		return out.Bytes(), fmt.Errorf("child ended by itself (%v): %s\n%s", werr, stderr.String(), out.String())
	}
	return append([]byte("\n"), out.Bytes()...), nil
}
