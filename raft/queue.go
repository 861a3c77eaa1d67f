package raft

import "sync"

// queue is an unbounded FIFO between two goroutines. The event loop pushes
// without ever blocking (a stalled disk or a slow FSM must not stop it from
// ticking); the consumer waits on signal and takes everything at once,
// which is what lets the storage stage commit many Readys as a group.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	signal chan struct{} // capacity 1: "there may be items"
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{signal: make(chan struct{}, 1)}
}

// push appends t and wakes the consumer.
func (q *queue[T]) push(t T) {
	q.mu.Lock()
	q.items = append(q.items, t)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take returns every queued item, oldest first, handing spare back to be
// reused as the next buffer.
func (q *queue[T]) take(spare []T) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	clear(spare)
	q.items = spare[:0]
	return out
}

// len returns the number of queued items.
func (q *queue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
