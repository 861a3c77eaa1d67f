package ledger

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// contents lists a tree's items in order.
func contents(t *btree) []item {
	var out []item
	t.ascend("", func(it item) bool { out = append(out, it); return true })
	return out
}

func checkAgainst(t *testing.T, tr *btree, want map[string]int64) {
	t.Helper()
	got := contents(tr)
	if len(got) != len(want) || tr.size != len(want) {
		t.Fatalf("tree holds %d items (size %d), want %d", len(got), tr.size, len(want))
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].id < got[j].id }) {
		t.Fatal("items out of order")
	}
	for _, it := range got {
		if want[it.id] != it.balance {
			t.Fatalf("%s = %d, want %d", it.id, it.balance, want[it.id])
		}
		if b, ok := tr.get(it.id); !ok || b != it.balance {
			t.Fatalf("get(%s) = %d, %v", it.id, b, ok)
		}
	}
}

func TestBtreeMatchesAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tr, want := newBtree(), map[string]int64{}
	for i := 0; i < 20000; i++ {
		id := fmt.Sprint(rng.IntN(5000))
		tr.set(id, int64(i))
		want[id] = int64(i)
	}
	checkAgainst(t, tr, want)
	if _, ok := tr.get("missing"); ok {
		t.Fatal("found an id never inserted")
	}
}

// TestBtreeFrozenViewsNeverChange: a view taken by freeze keeps exactly
// the contents of its moment, however the live tree changes afterwards.
func TestBtreeFrozenViewsNeverChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	tr, live := newBtree(), map[string]int64{}
	type frozen struct {
		view *btree
		want map[string]int64
	}
	var views []frozen
	for i := 0; i < 30000; i++ {
		id := fmt.Sprintf("%06d", rng.IntN(8000))
		tr.set(id, int64(i))
		live[id] = int64(i)
		if i%3000 == 0 {
			copyOf := make(map[string]int64, len(live))
			for k, v := range live {
				copyOf[k] = v
			}
			views = append(views, frozen{tr.freeze(), copyOf})
		}
	}
	checkAgainst(t, tr, live)
	for _, v := range views {
		checkAgainst(t, v.view, v.want)
	}
}

func TestBtreeAscendAfter(t *testing.T) {
	tr := newBtree()
	for i := 0; i < 1000; i++ {
		tr.set(fmt.Sprintf("%04d", i*2), int64(i))
	}
	var got []string
	tr.ascend("0999", func(it item) bool {
		got = append(got, it.id)
		return len(got) < 3
	})
	if fmt.Sprint(got) != "[1000 1002 1004]" {
		t.Fatalf("got %v", got)
	}
}

func TestBuildSortedMatchesInserts(t *testing.T) {
	for _, n := range []int{0, 1, 62, 63, 64, 127, 4031, 4032, 4033, 70000} {
		items := make([]item, n)
		want := map[string]int64{}
		for i := range items {
			items[i] = item{id: fmt.Sprintf("%08d", i), balance: int64(i)}
			want[items[i].id] = int64(i)
		}
		tr := buildSorted(items)
		checkAgainst(t, tr, want)
		if d := depths(tr.root, 0, map[int]bool{}); len(d) > 1 {
			t.Fatalf("n=%d: leaves at depths %v", n, d)
		}
		// The built tree takes inserts and freezes like any other.
		view := tr.freeze()
		for i := 0; i < 500; i++ {
			id := fmt.Sprintf("%08d", (i*7919)%(2*n+1))
			tr.set(id, -1)
			want[id] = -1
		}
		checkAgainst(t, tr, want)
		if view.size != n || len(contents(view)) != n {
			t.Fatalf("n=%d: the frozen view changed", n)
		}
	}
}

// depths records the depth of every leaf under n.
func depths(n *node, d int, seen map[int]bool) map[int]bool {
	if n == nil {
		return seen
	}
	if len(n.children) == 0 {
		seen[d] = true
		return seen
	}
	if len(n.children) != len(n.items)+1 || len(n.items) > maxItems {
		panic(fmt.Sprintf("malformed node: %d items, %d children", len(n.items), len(n.children)))
	}
	for _, c := range n.children {
		depths(c, d+1, seen)
	}
	return seen
}
