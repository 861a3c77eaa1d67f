package lock

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

// Options configure a Lock service. They must be the same on every
// replica.
type Options struct {
	// SessionTTL is how long the session layer remembers a client's
	// results after its last command, in log time. Zero means
	// session.DefaultTTL.
	SessionTTL time.Duration
}

// Lock is the lock service FSM: the lock table behind optional
// exactly-once sessions. Apply, ApplyBatch, Snapshot and Restore follow
// the fsm threading contract; Show may be called from any goroutine.
type Lock struct {
	mu   sync.RWMutex // guards st and sess
	st   *state
	sess *session.FSM
}

var _ fsm.BatchFSM = (*Lock)(nil)

// New returns an empty lock table.
func New(opts Options) *Lock {
	st := newState()
	return &Lock{st: st, sess: session.New(st, session.Options{TTL: opts.SessionTTL})}
}

func init() { fsm.Register("lock", Factory) }

// Factory builds a Lock from the daemon's fsm_options: session_ttl (a
// duration such as "10m"). Unknown keys and bad values are errors.
func Factory(options map[string]any) (fsm.FSM, error) {
	var opts Options
	for k, v := range options {
		switch k {
		case "session_ttl":
			s, ok := v.(string)
			d, err := time.ParseDuration(s)
			if !ok || err != nil || d <= 0 {
				return nil, fmt.Errorf("lock: fsm_options.session_ttl %v: want a positive duration such as \"10m\"", v)
			}
			opts.SessionTTL = d
		default:
			return nil, fmt.Errorf("lock: unknown fsm_options key %q (known: session_ttl)", k)
		}
	}
	return New(opts), nil
}

// Apply applies one lock command, bare or in a session envelope.
func (l *Lock) Apply(cmd fsm.Command) fsm.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.Apply(cmd)
}

// ApplyBatch applies cmds in order under one lock acquisition.
func (l *Lock) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.ApplyBatch(cmds)
}

// Snapshot returns a point-in-time copy of the table and sessions.
func (l *Lock) Snapshot() (fsm.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.Snapshot()
}

// Restore replaces the whole state with a snapshot's.
func (l *Lock) Restore(r io.Reader) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.Restore(r)
}

// Show returns the lock's holder, token, expiry and number of waiters as
// of the last applied command (Holder is empty when it is free). A lease
// whose expiry has passed on the wall clock is still shown until a later
// command's time passes it: the log, not the reader's clock, decides.
func (l *Lock) Show(name string) (Lease, error) {
	if err := validName("name", name); err != nil {
		return Lease{}, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.st.lease(name, l.st.locks[name]), nil
}

// Now returns the service's clock: the largest command time applied.
func (l *Lock) Now() time.Time {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return unixTime(l.st.now)
}
