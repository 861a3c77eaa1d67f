package ledger

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mandate-raft/mandate/fsm"
	"github.com/mandate-raft/mandate/fsm/session"
)

// Default option values.
const (
	DefaultSessionTTL  = 24 * time.Hour
	DefaultMaxSessions = 1 << 20
	// DefaultPageSize and MaxPageSize bound Accounts pages.
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Options configure a Ledger. They must be the same on every replica.
type Options struct {
	// SessionTTL is how long a request's result is remembered after its
	// client's last command, in log time. Zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions remembered; the least recently seen
	// go first. Zero means DefaultMaxSessions.
	MaxSessions int
}

// Ledger is the ledger FSM: the account state behind exactly-once
// sessions. Apply, ApplyBatch, Snapshot and Restore follow the fsm
// threading contract; the reads may be called from any goroutine.
type Ledger struct {
	mu   sync.RWMutex // guards st and sess: Apply writes, reads read
	st   *state
	sess *session.FSM
}

var _ fsm.BatchFSM = (*Ledger)(nil)

// New returns an empty ledger.
func New(opts Options) *Ledger {
	if opts.SessionTTL == 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	st := newState()
	return &Ledger{st: st, sess: session.New(st, session.Options{
		TTL:             opts.SessionTTL,
		MaxSessions:     opts.MaxSessions,
		RequireEnvelope: true,
	})}
}

func init() { fsm.Register("ledger", Factory) }

// Factory builds a Ledger from the daemon's fsm_options: session_ttl (a
// duration such as "24h") and max_sessions (an integer). Unknown keys and
// bad values are errors.
func Factory(options map[string]any) (fsm.FSM, error) {
	var opts Options
	for k, v := range options {
		switch k {
		case "session_ttl":
			d, err := asDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("ledger: fsm_options.session_ttl %v: want a positive duration such as \"24h\"", v)
			}
			opts.SessionTTL = d
		case "max_sessions":
			n, ok := asInt(v)
			if !ok || n <= 0 {
				return nil, fmt.Errorf("ledger: fsm_options.max_sessions %v: want a positive integer", v)
			}
			opts.MaxSessions = n
		default:
			return nil, fmt.Errorf("ledger: unknown fsm_options key %q (known: session_ttl, max_sessions)", k)
		}
	}
	return New(opts), nil
}

func asDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		return time.ParseDuration(x)
	case time.Duration:
		return x, nil
	}
	return 0, fmt.Errorf("not a duration: %T", v)
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case uint64:
		return int(x), x < 1<<62
	case float64:
		return int(x), x == float64(int(x))
	}
	return 0, false
}

// Apply applies one enveloped ledger command.
func (l *Ledger) Apply(cmd fsm.Command) fsm.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.Apply(cmd)
}

// ApplyBatch applies cmds in order under one lock acquisition.
func (l *Ledger) ApplyBatch(cmds []fsm.Command) []fsm.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.ApplyBatch(cmds)
}

// Snapshot returns a point-in-time view in O(sessions): the accounts are
// frozen copy-on-write, not copied.
func (l *Ledger) Snapshot() (fsm.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.Snapshot()
}

// Restore replaces the whole state with a snapshot's.
func (l *Ledger) Restore(r io.Reader) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess.Restore(r)
}

// Account is one account in a listing.
type Account struct {
	ID      string `json:"id"`
	Balance int64  `json:"balance"`
}

// Audit summarises the ledger. Total is summed from the balances
// themselves, so Total == Deposited - Withdrawn is a real check.
type Audit struct {
	Accounts  int   `json:"accounts"`
	Total     int64 `json:"total"`
	Deposited int64 `json:"deposited"`
	Withdrawn int64 `json:"withdrawn"`
}

// Reconciles reports whether the balances add up to the flows.
func (a Audit) Reconciles() bool { return a.Total == a.Deposited-a.Withdrawn }

// Balance returns an account's balance, ErrInvalidAccount for an id that
// cannot exist, or ErrUnknownAccount.
func (l *Ledger) Balance(id string) (int64, error) {
	if err := ValidAccount(id); err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	bal, ok := l.st.accounts.get(id)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownAccount, id)
	}
	return bal, nil
}

// Accounts returns up to limit accounts with ids above after, in id order.
// A limit <= 0 means DefaultPageSize; above MaxPageSize it is MaxPageSize.
// The next page starts after the last id returned; an empty page is the
// end.
func (l *Ledger) Accounts(after string, limit int) []Account {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]Account, 0, min(limit, l.st.accounts.size))
	l.st.accounts.ascend(after, func(it item) bool {
		out = append(out, Account{ID: it.id, Balance: it.balance})
		return len(out) < limit
	})
	return out
}

// Audit sums every balance and reports it with the flow totals. It walks
// a frozen view, so Apply is blocked only while the view is taken.
func (l *Ledger) Audit() Audit {
	l.mu.Lock()
	view := l.st.accounts.freeze()
	a := Audit{Accounts: view.size, Deposited: l.st.deposited, Withdrawn: l.st.withdrawn}
	l.mu.Unlock()
	view.ascend("", func(it item) bool {
		a.Total += it.balance
		return true
	})
	return a
}

// Sessions returns the number of client sessions remembered.
func (l *Ledger) Sessions() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.sess.Sessions()
}
