package boltdb

import (
	"sync"

	"github.com/mandate-raft/mandate/wire"
)

// tailCache keeps copies of the most recently written entries, so that the
// reads a leader makes right after appending (to replicate to followers
// and to apply) do not go back to bolt, where each entry costs a
// transaction and a decode.
//
// Invariant: when not empty, the cache holds [first, first+len(entries))
// and its end is the store's LastIndex (every write updates it, every
// write that shortens the log truncates it).
type tailCache struct {
	maxEntries int
	maxBytes   uint64

	mu      sync.Mutex
	entries []wire.Entry
	bytes   uint64
}

// first returns the first cached index, or 0 when the cache is empty.
func (c *tailCache) firstLocked() uint64 {
	if len(c.entries) == 0 {
		return 0
	}
	return c.entries[0].Index
}

// stored records entries just written; they replace any cached entries at
// or after entries[0].Index.
func (c *tailCache) stored(entries []wire.Entry) {
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
	for _, e := range entries {
		e = cloneEntry(e)
		c.entries = append(c.entries, e)
		c.bytes += e.Size()
	}
	c.trimLocked()
}

// dropBefore forgets entries below index.
func (c *tailCache) dropBefore(index uint64) {
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
	c.entries = append([]wire.Entry(nil), c.entries[n:]...)
}

func (c *tailCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked()
}

func (c *tailCache) resetLocked() {
	c.entries, c.bytes = nil, 0
}

// trimLocked drops the oldest entries beyond the limits. Appending later
// moves the survivors to a new array when the old one is full, so memory
// stays within a small multiple of the limits.
func (c *tailCache) trimLocked() {
	n := 0
	for len(c.entries)-n > c.maxEntries || (c.bytes > c.maxBytes && len(c.entries)-n > 1) {
		c.bytes -= c.entries[n].Size()
		n++
	}
	clear(c.entries[:n])
	c.entries = c.entries[n:]
}

// get returns a copy of the cached entry at index, and false if it is not
// cached.
func (c *tailCache) get(index uint64) (wire.Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.firstLocked()
	if first == 0 || index < first || index >= first+uint64(len(c.entries)) {
		return wire.Entry{}, false
	}
	return cloneEntry(c.entries[index-first]), true
}

// cloneEntry copies e's data and configuration, so the cache shares no
// memory with callers.
func cloneEntry(e wire.Entry) wire.Entry {
	if e.Data != nil {
		e.Data = append([]byte{}, e.Data...)
	}
	if e.Config != nil {
		c := e.Config.Clone()
		e.Config = &c
	}
	return e
}
