package session

import "sort"

// remembered is the result of one applied sequence. Inside a batch, a
// result not yet known has nil data (an encoded result is never empty);
// the batch keeps track of which command it waits for.
type remembered struct {
	seq  uint64
	data []byte
}

// client is one session, and a link of the table's recency list (kept in
// the struct rather than in container/list: one allocation less per
// session, which matters with a million of them).
//
// Invariant: results is sorted by seq, and every seq in it is >= floor.
type client struct {
	id string
	// lastSeen is the log time (Unix ns) of the client's latest command.
	lastSeen int64
	// floor is the lowest sequence the client has not acknowledged; results
	// below it are discarded and such sequences refused.
	floor      uint64
	results    []remembered
	prev, next *client
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

// insert records seq, which is not present.
func (c *client) insert(r remembered) {
	i, _ := c.find(r.seq)
	c.results = append(c.results, remembered{})
	copy(c.results[i+1:], c.results[i:])
	c.results[i] = r
}

// table holds the sessions in least-recently-seen order, which is also
// expiry order because the session clock never goes backwards.
type table struct {
	clients map[string]*client
	// oldest and newest are the ends of the recency list.
	oldest, newest *client
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
	c := &client{id: id, lastSeen: now, floor: floor}
	t.pushNewest(c)
	t.clients[id] = c
	return c
}

// touch marks c as seen at now.
func (t *table) touch(c *client, now int64) {
	c.lastSeen = now
	if t.newest != c {
		t.unlink(c)
		t.pushNewest(c)
	}
}

func (t *table) remove(c *client) {
	t.unlink(c)
	delete(t.clients, c.id)
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
