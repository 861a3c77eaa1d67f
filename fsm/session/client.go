package session

import "sync"

// Client numbers one client's commands and tracks which replies it still
// waits for, so that each envelope carries the right Ack. It is safe for
// concurrent use: a client may have many commands outstanding.
type Client struct {
	id string

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]bool
}

// NewClient returns a client whose first command has sequence 1. The id
// must be unique among live clients (a random UUID serves).
func NewClient(id string) *Client {
	return &Client{id: id, next: 1, waiting: map[uint64]bool{}}
}

// ID returns the client's id.
func (c *Client) ID() string { return c.id }

// Wrap assigns the next sequence to payload and returns its envelope. Send
// the same envelope again to retry; call Done once its reply arrived.
func (c *Client) Wrap(payload []byte) Envelope {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := c.next
	c.next++
	c.waiting[seq] = true
	return Envelope{Client: c.id, Seq: seq, Ack: c.ackLocked(), Payload: payload}
}

// Done records that the reply to seq arrived, so a later envelope
// acknowledges it and the cluster may forget its result.
func (c *Client) Done(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.waiting, seq)
}

// ackLocked is the lowest sequence still waiting for its reply, or the
// next sequence when none is.
func (c *Client) ackLocked() uint64 {
	low := c.next
	for s := range c.waiting {
		if s < low {
			low = s
		}
	}
	return low
}
