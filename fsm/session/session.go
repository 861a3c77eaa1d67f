package session

import (
	"fmt"
	"time"

	"github.com/mandate-raft/mandate/fsm"
)

// Default option values.
const (
	DefaultTTL        = 10 * time.Minute
	DefaultMaxPending = 1024
)

// Options tune the session layer. They must be the same on every replica.
type Options struct {
	// TTL is how long a session lives after its client's last command, in
	// log time. Zero means DefaultTTL; a negative value means sessions
	// never expire.
	TTL time.Duration
	// MaxSessions bounds the number of sessions: creating one more forgets
	// the least recently seen. Zero means no bound.
	MaxSessions int
	// MaxPending bounds the unacknowledged results one session remembers.
	// Zero means DefaultMaxPending.
	MaxPending int
	// RequireEnvelope refuses commands without an envelope (ErrNoEnvelope)
	// instead of passing them through.
	RequireEnvelope bool
	// Codec encodes remembered results. Nil means the inner FSM's own
	// ResultCodec if it has one, else NewMsgpackCodec().
	Codec ResultCodec
}

// FSM wraps an inner FSM with client sessions. It is an fsm.BatchFSM, and
// batches commands into the inner FSM's ApplyBatch when it has one. Like
// any FSM it is used from one goroutine at a time.
type FSM struct {
	inner fsm.FSM
	batch fsm.BatchFSM // inner, when it batches
	codec ResultCodec
	opts  Options
	ttl   int64 // ns; < 0: never
	// now is the largest command time seen, in Unix ns: the session clock.
	now     int64
	clients *table
}

var _ fsm.BatchFSM = (*FSM)(nil)

// New wraps inner with client sessions configured by opts.
func New(inner fsm.FSM, opts Options) *FSM {
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Codec == nil {
		if c, ok := inner.(ResultCodec); ok {
			opts.Codec = c
		} else {
			opts.Codec = NewMsgpackCodec()
		}
	}
	f := &FSM{inner: inner, codec: opts.Codec, opts: opts, ttl: int64(opts.TTL), clients: newTable()}
	f.batch, _ = inner.(fsm.BatchFSM)
	return f
}

// Inner returns the wrapped FSM.
func (f *FSM) Inner() fsm.FSM { return f.inner }

// Sessions returns the number of live sessions.
func (f *FSM) Sessions() int { return f.clients.len() }

// Now returns the session clock: the largest command time seen.
func (f *FSM) Now() time.Time {
	if f.now == 0 {
		return time.Time{}
	}
	return time.Unix(0, f.now)
}

// verdict is what the session layer decided for one command.
type verdict uint8

const (
	passThrough   verdict = iota // hand the command to the inner FSM as is
	applyNew                     // unwrap and apply, then remember the result
	replay                       // answer with a remembered result
	replayPending                // answer with the result of an earlier command in this batch
	refuse                       // answer with an error; apply nothing
)

type decision struct {
	verdict verdict
	env     Envelope
	cl      *client
	data    []byte // replay: the remembered result
	err     error  // refuse
}

// advance moves the session clock to t if it is later, and expires idle
// sessions. Zero times (tests, or a runtime that does not stamp entries)
// leave the clock alone.
func (f *FSM) advance(t time.Time) {
	if t.IsZero() {
		return
	}
	if ns := t.UnixNano(); ns > f.now {
		f.now = ns
	}
	if f.ttl >= 0 {
		f.clients.expire(f.now, f.ttl)
	}
}

// route decides what to do with cmd and updates the session table for it.
// Expiry must have run (advance) first.
func (f *FSM) route(cmd fsm.Command) decision {
	if !IsEnvelope(cmd.Data) {
		if f.opts.RequireEnvelope {
			return decision{verdict: refuse, err: ErrNoEnvelope}
		}
		return decision{verdict: passThrough}
	}
	env, err := DecodeEnvelope(cmd.Data)
	if err != nil {
		return decision{verdict: refuse, err: err}
	}
	cl := f.clients.clients[env.Client]
	if cl == nil {
		if env.Ack > 1 {
			return decision{verdict: refuse, err: fmt.Errorf("%w: client %q has no session but acknowledges sequences below %d", ErrSessionExpired, env.Client, env.Ack)}
		}
		if f.opts.MaxSessions > 0 && f.clients.len() >= f.opts.MaxSessions {
			f.clients.evictOldest()
		}
		cl = f.clients.add(env.Client, f.now, 1)
	} else {
		cl = f.clients.touch(cl, f.now)
	}
	cl.acknowledge(env.Ack)
	if env.Seq < cl.floor {
		return decision{verdict: refuse, err: fmt.Errorf("%w: client %q sequence %d is below its acknowledged floor %d", ErrStaleSequence, env.Client, env.Seq, cl.floor)}
	}
	if i, ok := cl.find(env.Seq); ok {
		r := cl.results[i]
		if r.data == nil {
			return decision{verdict: replayPending, env: env, cl: cl}
		}
		return decision{verdict: replay, data: r.data}
	}
	if len(cl.results) >= f.opts.MaxPending {
		return decision{verdict: refuse, err: fmt.Errorf("%w: client %q has %d", ErrTooManyPending, env.Client, len(cl.results))}
	}
	return decision{verdict: applyNew, env: env, cl: cl}
}

// encode turns a fresh result into the bytes to remember. A result the codec
// cannot encode is remembered as its error text, so every replica still
// remembers the same thing.
func (f *FSM) encode(r fsm.Result) []byte {
	b, err := f.codec.AppendResult(nil, r)
	if err == nil {
		if b == nil {
			b = []byte{} // nil marks a result still pending in a batch
		}
		return b
	}
	b, err = f.codec.AppendResult(nil, fsm.Result{Err: fmt.Errorf("session: result not remembered: %w", err)})
	if err != nil {
		panic(fmt.Sprintf("session: codec cannot encode its own error result: %v", err))
	}
	return b
}

func (f *FSM) decode(b []byte) fsm.Result {
	r, err := f.codec.DecodeResult(b)
	if err != nil {
		return fsm.Result{Err: fmt.Errorf("session: remembered result unreadable: %w", err)}
	}
	return r
}

// Apply applies one command with exactly-once semantics for enveloped
// commands.
func (f *FSM) Apply(cmd fsm.Command) fsm.Result {
	f.advance(cmd.Time)
	d := f.route(cmd)
	switch d.verdict {
	case passThrough:
		return f.inner.Apply(cmd)
	case applyNew:
		inner := cmd
		inner.Data = d.env.Payload
		res := f.inner.Apply(inner)
		d.cl.insert(remembered{seq: d.env.Seq, data: f.encode(res)})
		return res
	case replay:
		return f.decode(d.data)
	case refuse:
		return fsm.Result{Err: d.err}
	}
	panic(fmt.Sprintf("session: unexpected verdict %d outside a batch", d.verdict))
}

// step is the plan for one command of a batch.
type step struct {
	d decision
	// inner is the position in the inner batch for passThrough and
	// applyNew, and the batch position of the original for replayPending.
	inner int
	data  []byte // applyNew: the encoded result, once known
}

// ApplyBatch applies cmds in order, equivalently to calling Apply on each,
// with one call to the inner FSM's ApplyBatch when it has one.
func (f *FSM) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	out := make([]fsm.Result, len(cmds))
	if f.batch == nil {
		for i, c := range cmds {
			out[i] = f.Apply(c)
		}
		return out
	}
	plan := make([]step, len(cmds))
	inner := make([]fsm.Command, 0, len(cmds))
	// pending maps a result not yet known to the batch position of the
	// command that will produce it.
	type key struct {
		cl  *client
		seq uint64
	}
	pending := map[key]int{}
	for i, cmd := range cmds {
		f.advance(cmd.Time)
		d := f.route(cmd)
		plan[i].d = d
		switch d.verdict {
		case replayPending:
			plan[i].inner = pending[key{d.cl, d.env.Seq}]
		case passThrough:
			plan[i].inner = len(inner)
			inner = append(inner, cmd)
		case applyNew:
			plan[i].inner = len(inner)
			c := cmd
			c.Data = d.env.Payload
			inner = append(inner, c)
			d.cl.insert(remembered{seq: d.env.Seq})
			pending[key{d.cl, d.env.Seq}] = i
		}
	}
	var results []fsm.Result
	if len(inner) > 0 {
		results = f.batch.ApplyBatch(inner)
		if len(results) != len(inner) {
			panic(fmt.Sprintf("session: inner ApplyBatch returned %d results for %d commands", len(results), len(inner)))
		}
	}
	for i := range plan {
		p := &plan[i]
		switch p.d.verdict {
		case passThrough:
			out[i] = results[p.inner]
		case applyNew:
			out[i] = results[p.inner]
			p.data = f.encode(out[i])
			// The result may already be forgotten again (acknowledged or
			// expired later in this batch); then there is nothing to fill.
			if j, ok := p.d.cl.find(p.d.env.Seq); ok && p.d.cl.results[j].data == nil {
				p.d.cl.results[j] = remembered{seq: p.d.env.Seq, data: p.data}
			}
		case replay:
			out[i] = f.decode(p.d.data)
		case replayPending:
			out[i] = f.decode(plan[p.inner].data)
		case refuse:
			out[i] = fsm.Result{Err: p.d.err}
		}
	}
	return out
}
