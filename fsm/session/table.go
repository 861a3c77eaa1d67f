package session

import (
	"container/list"
	"sort"
)

// remembered is the result of one applied sequence. While a batch is being
// applied its data is not known yet: pending holds the batch position + 1.
type remembered struct {
	seq     uint64
	data    []byte
	pending int
}

// client is one session.
//
// Invariant: results is sorted by seq, and every seq in it is >= floor.
type client struct {
	id string
	// lastSeen is the log time (Unix ns) of the client's latest command.
	lastSeen int64
	// floor is the lowest sequence the client has not acknowledged; results
	// below it are discarded and such sequences refused.
	floor   uint64
	results []remembered
	elem    *list.Element
}

// find returns the position of seq in results and whether it is there.
func (c *client) find(seq uint64) (int, bool) {
	i := sort.Search(len(c.results), func(i int) bool { return c.results[i].seq >= seq })
	return i, i < len(c.results) && c.results[i].seq == seq
}

// acknowledge raises the floor to ack and forgets the results below it.
func (c *client) acknowledge(ack uint64) {
	if ack <= c.floor {
		return
	}
	c.floor = ack
	i, _ := c.find(ack)
	if i == 0 {
		return
	}
	// Copy rather than reslice so the forgotten results can be collected.
	c.results = append(c.results[:0:0], c.results[i:]...)
}

// insert records seq (not present) with its data or pending marker.
func (c *client) insert(r remembered) {
	i, _ := c.find(r.seq)
	c.results = append(c.results, remembered{})
	copy(c.results[i+1:], c.results[i:])
	c.results[i] = r
}

// table holds the sessions in least-recently-used order, which is also
// expiry order because log time never goes backwards here.
type table struct {
	clients map[string]*client
	lru     list.List // of *client, least recently seen first
}

func newTable() *table {
	t := &table{clients: map[string]*client{}}
	t.lru.Init()
	return t
}

func (t *table) len() int { return len(t.clients) }

// add creates a session seen at now.
func (t *table) add(id string, now int64, floor uint64) *client {
	c := &client{id: id, lastSeen: now, floor: floor}
	c.elem = t.lru.PushBack(c)
	t.clients[id] = c
	return c
}

// touch marks c as seen at now.
func (t *table) touch(c *client, now int64) {
	c.lastSeen = now
	t.lru.MoveToBack(c.elem)
}

func (t *table) remove(c *client) {
	t.lru.Remove(c.elem)
	delete(t.clients, c.id)
}

// expire forgets every session last seen more than ttl before now.
func (t *table) expire(now, ttl int64) {
	for e := t.lru.Front(); e != nil; e = t.lru.Front() {
		c := e.Value.(*client)
		if now-c.lastSeen <= ttl {
			return
		}
		t.remove(c)
	}
}

// evictOldest forgets the least recently seen session.
func (t *table) evictOldest() {
	if e := t.lru.Front(); e != nil {
		t.remove(e.Value.(*client))
	}
}
