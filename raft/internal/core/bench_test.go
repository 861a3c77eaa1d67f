package core

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/mandate-raft/mandate/wire"
)

// benchCluster is a minimal in-memory cluster of cores for benchmarks:
// instant disks, instant network, no recording.
type benchCluster struct {
	nodes []*RawNode
	store []*memStorage
	index map[wire.NodeID]int
	queue []wire.Message
	next  []wire.Message
}

func newBenchCluster(tb testing.TB, n int) *benchCluster {
	members := ids(n)
	boot, err := Bootstrap(voters(members...))
	if err != nil {
		tb.Fatal(err)
	}
	bc := &benchCluster{index: map[wire.NodeID]int{}}
	for i, id := range members {
		st := newMemStorageWith(boot)
		c := testConfig(id, st)
		c.HardState = wire.HardState{Term: 1}
		rn, err := NewRawNode(c)
		if err != nil {
			tb.Fatal(err)
		}
		bc.nodes = append(bc.nodes, rn)
		bc.store = append(bc.store, st)
		bc.index[id] = i
	}
	if err := bc.nodes[0].Campaign(); err != nil {
		tb.Fatal(err)
	}
	bc.settle()
	if bc.nodes[0].Status().SoftState.State != StateLeader {
		tb.Fatal("n1 not elected")
	}
	return bc
}

// settle runs Readys and delivers messages until the cluster is idle.
func (bc *benchCluster) settle() {
	for {
		moved := false
		for i, rn := range bc.nodes {
			for rn.HasReady() {
				moved = true
				rd := rn.Ready()
				bc.queue = append(bc.queue, rd.Messages...)
				st := bc.store[i]
				st.write(rd.Entries)
				bc.queue = append(bc.queue, rd.DurableMessages...)
				if k := len(rd.Entries); k > 0 {
					last := rd.Entries[k-1]
					_ = rn.Step(wire.Message{Type: wire.MsgStorageAppendResp, Index: last.Index, LogTerm: last.Term})
				}
			}
		}
		if len(bc.queue) > 0 {
			moved = true
			bc.queue, bc.next = bc.next[:0], bc.queue
			for j := range bc.next {
				m := &bc.next[j]
				_ = bc.nodes[bc.index[m.To]].StepPeer(*m)
				*m = wire.Message{}
			}
		}
		if !moved {
			return
		}
	}
}

// maybeCompact drops applied entries from the stores now and then, as a
// runtime taking snapshots would, so the benchmark measures the core and
// not the growth of an in-memory log.
func (bc *benchCluster) maybeCompact() {
	for i, st := range bc.store {
		if len(st.ents) < 8192 {
			continue
		}
		if applied := bc.nodes[i].raft.log.applied; applied > st.offset() && applied <= st.LastIndex() {
			st.compact(applied, st.snap.Config)
		}
	}
}

// BenchmarkProposals measures a 3-node cluster of cores committing
// proposals of 64 bytes, with one or 256 proposals per step: the core's
// own cost per proposal (disk and network are free here).
func BenchmarkProposals(b *testing.B) {
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			bc := newBenchCluster(b, 3)
			data := make([]byte, 64)
			ents := make([]wire.Entry, batch)
			for i := range ents {
				ents[i] = wire.Entry{Data: data}
			}
			leader := bc.nodes[0]
			start := leader.Status().HardState.Commit
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(batch, b.N-done)
				if err := leader.Propose(ents[:n]...); err != nil {
					b.Fatal(err)
				}
				done += n
				bc.settle()
				bc.maybeCompact()
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			// allocs/op rounds to whole numbers; this keeps the fraction
			// (it includes the in-memory test store's own allocations).
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/proposal")
			if got := leader.Status().HardState.Commit - start; got != uint64(b.N) {
				b.Fatalf("committed %d of %d proposals", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
		})
	}
}
