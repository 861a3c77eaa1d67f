package ledger

import "sort"

// The accounts live in a copy-on-write B-tree: ordered (for paged
// listings and deterministic snapshots) and cheap to freeze (for
// point-in-time snapshots that Persist writes while Apply goes on).
//
// Every node records the owner that may change it in place. Freezing a
// tree gives the live tree a new owner, so from then on it copies each node
// it is about to change (and the path to it) instead of changing the node
// the frozen view still shares.

const (
	// maxItems is the most items a node holds; a full node is split before
	// an insert descends into it.
	maxItems = 63
	// splitAt is the index of the item that moves up when a node splits.
	splitAt = maxItems / 2
)

type item struct {
	id      string
	balance int64
}

// owner identifies the tree allowed to mutate a node in place. It has a
// field so that distinct owners have distinct addresses.
type owner struct{ _ int }

type node struct {
	// Invariant: items sorted by id, unique; len(children) is 0 (a leaf)
	// or len(items)+1, and children[i] holds the ids between items[i-1]
	// and items[i].
	items    []item
	children []*node
	owner    *owner
}

type btree struct {
	root  *node
	size  int
	owner *owner
}

func newBtree() *btree { return &btree{owner: &owner{}} }

// freeze returns a read-only view of the tree as it is now. The view stays
// valid however the tree changes later, and must never be changed itself.
func (t *btree) freeze() *btree {
	view := &btree{root: t.root, size: t.size}
	t.owner = &owner{}
	return view
}

// search returns the position of id in n.items, or where it would go.
func (n *node) search(id string) (int, bool) {
	i := sort.Search(len(n.items), func(i int) bool { return n.items[i].id >= id })
	return i, i < len(n.items) && n.items[i].id == id
}

func (t *btree) get(id string) (int64, bool) {
	for n := t.root; n != nil; {
		i, found := n.search(id)
		if found {
			return n.items[i].balance, true
		}
		if len(n.children) == 0 {
			return 0, false
		}
		n = n.children[i]
	}
	return 0, false
}

// mutable returns n itself if this tree owns it, else an owned copy.
func (t *btree) mutable(n *node) *node {
	if n.owner == t.owner {
		return n
	}
	c := &node{owner: t.owner, items: make([]item, len(n.items), maxItems+1)}
	copy(c.items, n.items)
	if len(n.children) > 0 {
		c.children = make([]*node, len(n.children), maxItems+2)
		copy(c.children, n.children)
	}
	return c
}

// split moves the items after splitAt of an owned, full node into a new
// node and returns the middle item and the new node.
func (t *btree) split(n *node) (item, *node) {
	mid := n.items[splitAt]
	right := &node{owner: t.owner, items: make([]item, len(n.items)-splitAt-1, maxItems+1)}
	copy(right.items, n.items[splitAt+1:])
	clear(n.items[splitAt:])
	n.items = n.items[:splitAt]
	if len(n.children) > 0 {
		right.children = make([]*node, len(n.children)-splitAt-1, maxItems+2)
		copy(right.children, n.children[splitAt+1:])
		clear(n.children[splitAt+1:])
		n.children = n.children[:splitAt+1]
	}
	return mid, right
}

// set inserts id with balance, or replaces its balance.
func (t *btree) set(id string, balance int64) {
	it := item{id: id, balance: balance}
	if t.root == nil {
		t.root = &node{owner: t.owner, items: make([]item, 0, maxItems+1)}
	}
	t.root = t.mutable(t.root)
	if len(t.root.items) >= maxItems {
		left := t.root
		mid, right := t.split(left)
		t.root = &node{owner: t.owner, items: make([]item, 1, maxItems+1), children: make([]*node, 2, maxItems+2)}
		t.root.items[0] = mid
		t.root.children[0], t.root.children[1] = left, right
	}
	if t.insert(t.root, it) {
		t.size++
	}
}

// insert puts it into the subtree of the owned, non-full node n and
// reports whether it added an item (rather than replacing one).
func (t *btree) insert(n *node, it item) bool {
	for {
		i, found := n.search(it.id)
		if found {
			n.items[i] = it
			return false
		}
		if len(n.children) == 0 {
			n.items = append(n.items, item{})
			copy(n.items[i+1:], n.items[i:])
			n.items[i] = it
			return true
		}
		child := t.mutable(n.children[i])
		n.children[i] = child
		if len(child.items) >= maxItems {
			mid, right := t.split(child)
			n.items = append(n.items, item{})
			copy(n.items[i+1:], n.items[i:])
			n.items[i] = mid
			n.children = append(n.children, nil)
			copy(n.children[i+2:], n.children[i+1:])
			n.children[i+1] = right
			switch {
			case it.id == mid.id:
				n.items[i] = it
				return false
			case it.id > mid.id:
				child = right
			}
		}
		n = child
	}
}

// ascend calls fn for each item with an id above after, in order, until fn
// returns false.
func (t *btree) ascend(after string, fn func(item) bool) {
	if t.root != nil {
		t.root.ascend(after, fn)
	}
}

func (n *node) ascend(after string, fn func(item) bool) bool {
	i := sort.Search(len(n.items), func(i int) bool { return n.items[i].id > after })
	for ; i <= len(n.items); i++ {
		if len(n.children) > 0 && !n.children[i].ascend(after, fn) {
			return false
		}
		if i < len(n.items) && !fn(n.items[i]) {
			return false
		}
	}
	return true
}

// buildSorted returns a tree holding items, which must be sorted by id
// without duplicates. It builds the nodes bottom-up, filled as much as
// possible, in O(n): much faster than n inserts, and half the nodes.
func buildSorted(items []item) *btree {
	t := newBtree()
	t.size = len(items)
	if len(items) == 0 {
		return t
	}
	// capacity[h] is the most items a tree of height h holds.
	capacity := []int{0, maxItems}
	for capacity[len(capacity)-1] < len(items) {
		c := capacity[len(capacity)-1]
		capacity = append(capacity, maxItems+(maxItems+1)*c)
	}
	t.root = t.build(items, capacity, len(capacity)-1)
	return t
}

// build makes a subtree of height h from items (at most capacity[h]).
// Every leaf ends up at the same depth.
func (t *btree) build(items []item, capacity []int, h int) *node {
	if h == 1 {
		n := &node{owner: t.owner, items: make([]item, len(items), maxItems+1)}
		copy(n.items, items)
		return n
	}
	// The fewest children that can hold the items, with one separator
	// between each two; the rest spread evenly over the children.
	children := (len(items) + 1 + capacity[h-1]) / (capacity[h-1] + 1)
	children = max(children, 2)
	rest := len(items) - (children - 1)
	n := &node{owner: t.owner, items: make([]item, 0, maxItems+1), children: make([]*node, 0, maxItems+2)}
	for i := 0; i < children; i++ {
		size := rest / children
		if i < rest%children {
			size++
		}
		n.children = append(n.children, t.build(items[:size], capacity, h-1))
		items = items[size:]
		if i < children-1 {
			n.items = append(n.items, items[0])
			items = items[1:]
		}
	}
	return n
}
