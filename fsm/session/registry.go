package session

// chunkSize is the number of slots per registry chunk: the unit a
// snapshot shares and a later change copies.
const chunkSize = 256

type chunk struct {
	gen   uint64
	slots [chunkSize]*client
}

// registry lists the live sessions in creation order, in chunks that are
// copied on write, so that freezing it for a snapshot copies only the
// chunk pointers. Removed sessions leave empty slots, squeezed out once
// they outnumber the live ones.
//
// Invariant: every live client c has slots[c.slot] == c; gen is the
// generation that may change chunks in place.
type registry struct {
	chunks []*chunk
	used   int // slots used, live or emptied
	live   int
	gen    uint64
}

// frozen is a registry as it was when frozen; never changed afterwards.
type frozen struct {
	chunks []*chunk
	used   int
	live   int
}

func (r *registry) set(i int, c *client) {
	ch := r.chunks[i/chunkSize]
	if ch.gen != r.gen {
		cp := *ch
		cp.gen = r.gen
		ch = &cp
		r.chunks[i/chunkSize] = ch
	}
	ch.slots[i%chunkSize] = c
}

func (r *registry) add(c *client) {
	if r.used == len(r.chunks)*chunkSize {
		r.chunks = append(r.chunks, &chunk{gen: r.gen})
	}
	c.slot = r.used
	r.set(r.used, c)
	r.used++
	r.live++
}

func (r *registry) remove(c *client) {
	r.set(c.slot, nil)
	r.live--
	if empty := r.used - r.live; empty > chunkSize && empty > r.live {
		r.compact()
	}
}

// compact rebuilds the registry without empty slots, keeping the order.
// It makes new chunks, so a frozen view is unaffected.
func (r *registry) compact() {
	old, used := r.chunks, r.used
	r.chunks, r.used, r.live = nil, 0, 0
	for i := 0; i < used; i++ {
		if c := old[i/chunkSize].slots[i%chunkSize]; c != nil {
			r.add(c)
		}
	}
}

// freeze returns the registry as it is now and starts a new generation,
// so that later changes copy what the frozen view shares.
func (r *registry) freeze() frozen {
	f := frozen{chunks: append([]*chunk(nil), r.chunks...), used: r.used, live: r.live}
	r.gen++
	return f
}

// each calls fn for every session of the view, in creation order.
func (f frozen) each(fn func(*client)) {
	for i := 0; i < f.used; i++ {
		if c := f.chunks[i/chunkSize].slots[i%chunkSize]; c != nil {
			fn(c)
		}
	}
}
