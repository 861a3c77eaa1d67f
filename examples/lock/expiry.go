package lock

import "container/heap"

// due is one lease's expiry in the expiry queue. The queue may hold stale
// entries (a lease renewed or released since); they are recognised by
// their token and expiry not matching the lock's, and skipped.
type due struct {
	at    int64 // Unix ns
	name  string
	token uint64
}

// dueQueue is a min-heap ordered by (at, name, token): a total order, so
// every replica expires simultaneous leases in the same order.
type dueQueue []due

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	if q[i].name != q[j].name {
		return q[i].name < q[j].name
	}
	return q[i].token < q[j].token
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(due)) }
func (q *dueQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	*q = old[:len(old)-1]
	return d
}

func (q *dueQueue) add(d due) { heap.Push(q, d) }

// popDue removes and returns the earliest entry if it is due at now.
func (q *dueQueue) popDue(now int64) (due, bool) {
	if len(*q) == 0 || (*q)[0].at > now {
		return due{}, false
	}
	return heap.Pop(q).(due), true
}
