package session

import "sort"

// remembered is the result of one applied sequence. Inside a batch, a
// result not yet known has nil data (an encoded result is never nil); the
// batch keeps track of which command it waits for.
type remembered struct {
	seq  uint64
	data []byte
}

// client is one session.
//
// Its id, lastSeen, floor, tick and results are what a snapshot reads, so
// they are written only while the record belongs to the current
// generation (table.own); a record of an older generation may be shared
// with a snapshot still being persisted, and is replaced by a copy before
// it changes. prev, next and slot are the live table's bookkeeping, never
// read by a snapshot.
//
// Invariant: results is sorted by seq, and every seq in it is >= floor.
type client struct {
	id string
	// lastSeen is the log time (Unix ns) of the client's latest command.
	lastSeen int64
	// floor is the lowest sequence the client has not acknowledged; results
	// below it are discarded and such sequences refused.
	floor uint64
	// tick orders sessions by recency: the table's counter when the client
	// was last seen. Unique, so the order survives a snapshot exactly.
	tick    uint64
	results []remembered
	gen     uint64

	prev, next *client // recency list, least recently seen first
	slot       int     // position in the table's registry
}

// find returns the position of seq in results and whether it is there.
func (c *client) find(seq uint64) (int, bool) {
	i := sort.Search(len(c.results), func(i int) bool { return c.results[i].seq >= seq })
	return i, i < len(c.results) && c.results[i].seq == seq
}

// acknowledge raises the floor to ack and forgets the results below it.
// The caller owns c.
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

// insert records seq, which is not present. The caller owns c.
func (c *client) insert(r remembered) {
	i, _ := c.find(r.seq)
	c.results = append(c.results, remembered{})
	copy(c.results[i+1:], c.results[i:])
	c.results[i] = r
}

// table holds the sessions: a map for lookups, a recency list for expiry
// and eviction (least recently seen first, which is also expiry order
// because the session clock never goes backwards), and a registry that a
// snapshot freezes in O(sessions / chunkSize).
type table struct {
	clients        map[string]*client
	oldest, newest *client
	reg            registry
	// tick counts touches; the next one gets tick+1.
	tick uint64
}

func newTable() *table { return &table{clients: map[string]*client{}} }

func (t *table) len() int { return len(t.clients) }

func (t *table) unlink(c *client) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		t.oldest = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		t.newest = c.prev
	}
	c.prev, c.next = nil, nil
}

func (t *table) pushNewest(c *client) {
	c.prev, c.next = t.newest, nil
	if t.newest != nil {
		t.newest.next = c
	} else {
		t.oldest = c
	}
	t.newest = c
}

// add creates a session seen at now.
func (t *table) add(id string, now int64, floor uint64) *client {
	t.tick++
	c := &client{id: id, lastSeen: now, floor: floor, tick: t.tick, gen: t.reg.gen}
	t.pushNewest(c)
	t.clients[id] = c
	t.reg.add(c)
	return c
}

// own returns c if it belongs to the current generation, else a copy that
// takes its place everywhere in the live table, leaving c to the snapshot
// that shares it.
func (t *table) own(c *client) *client {
	if c.gen == t.reg.gen {
		return c
	}
	n := &client{
		id: c.id, lastSeen: c.lastSeen, floor: c.floor, tick: c.tick,
		results: append([]remembered(nil), c.results...), gen: t.reg.gen,
		prev: c.prev, next: c.next, slot: c.slot,
	}
	if n.prev != nil {
		n.prev.next = n
	} else {
		t.oldest = n
	}
	if n.next != nil {
		n.next.prev = n
	} else {
		t.newest = n
	}
	c.prev, c.next = nil, nil
	t.clients[n.id] = n
	t.reg.set(n.slot, n)
	return n
}

// touch marks c as seen at now and returns the record to change from now
// on (c itself, or its copy).
func (t *table) touch(c *client, now int64) *client {
	c = t.own(c)
	t.tick++
	c.lastSeen, c.tick = now, t.tick
	if t.newest != c {
		t.unlink(c)
		t.pushNewest(c)
	}
	return c
}

func (t *table) remove(c *client) {
	t.unlink(c)
	delete(t.clients, c.id)
	t.reg.remove(c)
}

// expire forgets every session last seen more than ttl before now.
func (t *table) expire(now, ttl int64) {
	for c := t.oldest; c != nil && now-c.lastSeen > ttl; c = t.oldest {
		t.remove(c)
	}
}

// evictOldest forgets the least recently seen session.
func (t *table) evictOldest() {
	if t.oldest != nil {
		t.remove(t.oldest)
	}
}
