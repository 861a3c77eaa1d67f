package inmem

import "github.com/mandate-raft/mandate/wire"

// cloneMessage deep-copies m, so that neither side of an in-memory link
// can see the other change a shared slice: a network transport never
// shares memory, and tests must not pass thanks to aliasing.
func cloneMessage(m wire.Message) wire.Message {
	c := m
	if m.Entries != nil {
		c.Entries = make([]wire.Entry, len(m.Entries))
		for i, e := range m.Entries {
			c.Entries[i] = e
			c.Entries[i].Data = cloneBytes(e.Data)
			if e.Config != nil {
				cfg := e.Config.Clone()
				c.Entries[i].Config = &cfg
			}
		}
	}
	if m.Snapshot != nil {
		s := *m.Snapshot
		s.Config = m.Snapshot.Config.Clone()
		c.Snapshot = &s
	}
	c.Context = cloneBytes(m.Context)
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
