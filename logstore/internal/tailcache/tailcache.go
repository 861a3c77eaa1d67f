// Package tailcache keeps copies of a log store's most recently written
// entries in memory, so that the reads a leader makes right after
// appending (to replicate to followers and to apply) do not go back to the
// disk.
package tailcache

import (
	"sync"

	"github.com/mandate-raft/mandate/wire"
)

// Cache holds copies of the most recently written entries of one store.
// It is safe for concurrent use.
//
// Invariant: when not empty, the cache holds [first, first+len(entries))
// and its end is the store's LastIndex (every write updates it, every
// write that shortens the log truncates it).
type Cache struct {
	maxEntries int
	maxBytes   uint64

	mu      sync.Mutex
	entries []wire.Entry
	bytes   uint64
	// base is the whole array entries lies in. When appending would
	// pass its end, the entries move back to its start (see makeRoom)
	// instead of to a new array: a write then costs no allocation and no
	// zeroing of a new array of entries. Outside entries, base is zero.
	base []wire.Entry
}

// New returns a cache of at most maxEntries entries whose Size totals at
// most maxBytes (the newest entry is kept whatever its size). A
// maxEntries of 0 or less disables it: it then holds nothing.
func New(maxEntries int, maxBytes uint64) *Cache {
	return &Cache{maxEntries: maxEntries, maxBytes: maxBytes}
}

// first returns the first cached index, or 0 when the cache is empty.
func (c *Cache) firstLocked() uint64 {
	if len(c.entries) == 0 {
		return 0
	}
	return c.entries[0].Index
}

// Stored records entries just written; they replace any cached entries at
// or after entries[0].Index.
func (c *Cache) Stored(entries []wire.Entry) {
	if c.maxEntries <= 0 || len(entries) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start := entries[0].Index
	if first := c.firstLocked(); first == 0 || start < first || start > first+uint64(len(c.entries)) {
		c.resetLocked()
	} else {
		for _, e := range c.entries[start-first:] {
			c.bytes -= e.Size()
		}
		clear(c.entries[start-first:]) // let the dropped data be collected
		c.entries = c.entries[:start-first]
	}
	c.makeRoomLocked(len(entries))
	data := cloneData(entries)
	for _, e := range entries {
		e.Data, data = takeData(e.Data, data)
		e.Config = cloneConfig(e.Config)
		c.entries = append(c.entries, e)
		c.bytes += e.Size()
	}
	c.trimLocked()
}

// makeRoomLocked makes sure k more entries fit after the cached ones
// within base: by moving the cached entries to the start of base, or, if
// base is too small, to a new base up to twice the entry limit.
func (c *Cache) makeRoomLocked(k int) {
	need := len(c.entries) + k
	if need <= cap(c.entries) {
		return
	}
	if need > cap(c.base) {
		size := max(need, min(max(2*cap(c.base), 64), 2*c.maxEntries))
		nb := make([]wire.Entry, len(c.entries), size)
		copy(nb, c.entries)
		clear(c.entries)
		c.base, c.entries = nb[:size], nb
		return
	}
	off := cap(c.base) - cap(c.entries)
	n := copy(c.base, c.entries)
	clear(c.base[n : off+n]) // what the move left behind
	c.entries = c.base[:n]
}

// DropBefore forgets entries below index.
func (c *Cache) DropBefore(index uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.firstLocked()
	if first == 0 || index <= first {
		return
	}
	n := min(index-first, uint64(len(c.entries)))
	for _, e := range c.entries[:n] {
		c.bytes -= e.Size()
	}
	clear(c.entries[:n])
	c.entries = c.entries[n:]
}

// Reset forgets every entry (the store's log was replaced or emptied).
func (c *Cache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked()
}

func (c *Cache) resetLocked() {
	clear(c.entries)
	c.entries, c.bytes = c.base[:0], 0
}

// trimLocked drops the oldest entries beyond the limits; makeRoomLocked
// moves the survivors back to the start of base when its end is reached,
// so memory stays within a small multiple of the limits.
func (c *Cache) trimLocked() {
	n := 0
	for len(c.entries)-n > c.maxEntries || (c.bytes > c.maxBytes && len(c.entries)-n > 1) {
		c.bytes -= c.entries[n].Size()
		n++
	}
	clear(c.entries[:n])
	c.entries = c.entries[n:]
}

// AppendRange appends to out copies of the cached entries from lo on,
// below hi, while they fit in maxBytes by the rule of logstore.LimitSize,
// *size being the Size of the entries already in out (it is updated).
// It returns the index after the last entry appended (lo if lo is not
// cached) and whether it stopped because of maxBytes. The copies' data
// share one new array, each capped at its own length.
func (c *Cache) AppendRange(out []wire.Entry, lo, hi uint64, size *uint64, maxBytes uint64) ([]wire.Entry, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.firstLocked()
	if first == 0 || lo < first || lo >= first+uint64(len(c.entries)) {
		return out, lo, false
	}
	src := c.entries[lo-first : min(hi, first+uint64(len(c.entries)))-first]
	full := false
	total := *size
	for i := range src {
		total += src[i].Size()
		if maxBytes > 0 && (len(out) > 0 || i > 0) && total > maxBytes {
			src, full = src[:i], true
			break
		}
		*size = total
	}
	data := cloneData(src)
	for _, e := range src {
		e.Data, data = takeData(e.Data, data)
		e.Config = cloneConfig(e.Config)
		out = append(out, e)
	}
	return out, lo + uint64(len(src)), full
}

// cloneData returns one new array holding the Data of every entry, in
// order, for takeData to hand out.
func cloneData(entries []wire.Entry) []byte {
	n := 0
	for i := range entries {
		n += len(entries[i].Data)
	}
	if n == 0 {
		return nil
	}
	data := make([]byte, 0, n)
	for i := range entries {
		data = append(data, entries[i].Data...)
	}
	return data
}

// takeData returns the copy of d at the front of data (capped at its
// length, so that appending to it cannot overwrite the next entry's data)
// and the rest of data. A nil d stays nil and an empty one empty.
func takeData(d, data []byte) ([]byte, []byte) {
	if d == nil {
		return nil, data
	}
	if len(d) == 0 {
		return []byte{}, data
	}
	return data[:len(d):len(d)], data[len(d):]
}

// cloneConfig returns a deep copy of c (nil for nil), so that the cache
// shares no memory with callers.
func cloneConfig(c *wire.Configuration) *wire.Configuration {
	if c == nil {
		return nil
	}
	cc := c.Clone()
	return &cc
}
