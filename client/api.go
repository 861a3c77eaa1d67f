package client

import "time"

// This file holds the JSON documents of the HTTP API, shared by the daemon
// (which serves them) and the client (which sends and reads them). Field
// names are the wire contract: renaming one breaks every deployed client.

// Consistency chooses how a read is served.
type Consistency string

const (
	// Linearizable reads (the default) reflect every write acknowledged
	// before the read started, whichever node serves them: the node first
	// confirms with the cluster how far the log is committed and waits until
	// its own state machine has applied that far.
	Linearizable Consistency = ""
	// Stale reads are served from the local replica at once. They may miss
	// recent writes, but they work without a leader and cost no round trip.
	Stale Consistency = "stale"
	// Bounded reads are served from the local replica at once if it is at
	// most 1000 entries behind the leader's commit index as it last
	// learned it, and learned that within an election timeout; otherwise
	// they fail with CodeTooStale. Cheaper than linearizable, safer than
	// stale.
	Bounded Consistency = "bounded"
)

// ErrorBody is the body of every non-2xx response:
// {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a machine-readable code and a human-readable message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Member is one server of the cluster's configuration.
type Member struct {
	// ID is the node's id, chosen by the operator.
	ID string `json:"id"`
	// Address is the node's Raft (peer-to-peer) address.
	Address string `json:"address"`
	// Role is "voter" or "learner".
	Role string `json:"role"`
}

// Status describes one node as it sees itself and the cluster.
type Status struct {
	ID string `json:"id"`
	// State is the node's Raft role: Leader, Follower, Candidate,
	// PreCandidate, or Shutdown.
	State string `json:"state"`
	Term  uint64 `json:"term"`
	// LeaderID and LeaderAddress name the leader this node knows of; empty
	// when it knows none.
	LeaderID      string `json:"leader_id"`
	LeaderAddress string `json:"leader_address,omitempty"`
	CommitIndex   uint64 `json:"commit_index"`
	AppliedIndex  uint64 `json:"applied_index"`
	LastIndex     uint64 `json:"last_index"`
	// FSM is the registered name of the state machine the node runs.
	FSM     string   `json:"fsm"`
	Members []Member `json:"members"`
	// Version is the daemon's build version.
	Version string `json:"version,omitempty"`
	// AwaitingFounders lists the founding members this node, started for
	// the first time with bootstrap, still waits to hear from: the
	// cluster forms once every founding member is up.
	AwaitingFounders []string `json:"awaiting_founders,omitempty"`
}

// MembersResponse lists the cluster's configuration as this node knows it.
type MembersResponse struct {
	Members  []Member `json:"members"`
	LeaderID string   `json:"leader_id"`
}

// AddMemberRequest adds a server to the cluster. Role is "voter" (the
// default) or "learner".
type AddMemberRequest struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Role    string `json:"role,omitempty"`
}

// TransferLeadershipRequest asks the leader to hand leadership to To, or
// to the most up-to-date other voter when To is empty.
type TransferLeadershipRequest struct {
	To string `json:"to,omitempty"`
}

// TransferLeadershipResponse names the leader after the transfer.
type TransferLeadershipResponse struct {
	LeaderID string `json:"leader_id"`
}

// SnapshotResponse describes the snapshot a node took on demand.
type SnapshotResponse struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
}

// DepositRequest credits Amount (minor units, > 0) to Account, opening it
// if new. RequestID makes the write exactly-once: a retry with the same id
// is answered with the first attempt's result and applied only once. When
// empty, the node generates one, and a retry is a new request.
type DepositRequest struct {
	RequestID string `json:"request_id,omitempty"`
	Account   string `json:"account"`
	Amount    int64  `json:"amount"`
}

// WithdrawRequest debits Amount (> 0) from Account, which must hold at
// least Amount.
type WithdrawRequest struct {
	RequestID string `json:"request_id,omitempty"`
	Account   string `json:"account"`
	Amount    int64  `json:"amount"`
}

// TransferRequest moves Amount (> 0) from From to To atomically.
type TransferRequest struct {
	RequestID string `json:"request_id,omitempty"`
	From      string `json:"from"`
	To        string `json:"to"`
	Amount    int64  `json:"amount"`
}

// WriteResponse acknowledges a committed ledger write.
type WriteResponse struct {
	RequestID string `json:"request_id"`
	// Index is the log index at which the write was committed.
	Index uint64 `json:"index"`
	// Balances holds the new balances of the accounts the write touched.
	Balances map[string]int64 `json:"balances,omitempty"`
}

// Account is one account and its balance.
type Account struct {
	ID      string `json:"id"`
	Balance int64  `json:"balance"`
}

// AccountsResponse is one page of accounts in id order. Next, when not
// empty, is the `after` value that fetches the following page.
type AccountsResponse struct {
	Accounts []Account `json:"accounts"`
	Next     string    `json:"next,omitempty"`
}

// Audit summarises the ledger. Total always equals Deposited - Withdrawn.
type Audit struct {
	Accounts  int64 `json:"accounts"`
	Total     int64 `json:"total"`
	Deposited int64 `json:"deposited"`
	Withdrawn int64 `json:"withdrawn"`
	// Reconciles reports whether Total == Deposited - Withdrawn.
	Reconciles bool `json:"reconciles"`
	// AppliedIndex is the log index the serving replica had applied.
	AppliedIndex uint64 `json:"applied_index"`
}

// LockAcquireRequest asks for the lock for Owner for TTLMillis. With
// WaitMillis > 0 a held lock queues the request, first come first served,
// until WaitMillis passes.
//
// RequestID, optional on every lock write, makes it exactly-once: a retry
// with the same id is answered with the first attempt's result.
type LockAcquireRequest struct {
	RequestID  string `json:"request_id,omitempty"`
	Owner      string `json:"owner"`
	TTLMillis  int64  `json:"ttl_ms"`
	WaitMillis int64  `json:"wait_ms,omitempty"`
}

// LockRenewRequest extends the holder's lease by TTLMillis.
type LockRenewRequest struct {
	RequestID string `json:"request_id,omitempty"`
	Owner     string `json:"owner"`
	Token     uint64 `json:"token"`
	TTLMillis int64  `json:"ttl_ms"`
}

// LockReleaseRequest gives the lock up.
type LockReleaseRequest struct {
	RequestID string `json:"request_id,omitempty"`
	Owner     string `json:"owner"`
	Token     uint64 `json:"token"`
}

// Lock is a lock's state. A lock nobody holds has an empty Holder. A
// queued waiter learns that it was granted the lock by showing the lock or
// repeating its acquire.
type Lock struct {
	Name string `json:"name"`
	// Holder is the owner holding the lock, empty when free.
	Holder string `json:"holder,omitempty"`
	// Token is the fencing token of the current (or last) holding: it
	// strictly increases across acquisitions.
	Token uint64 `json:"token,omitempty"`
	// ExpiresAt is when the holding ends unless renewed, by the leader's
	// clock as recorded in the log.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Queued is true when an acquire with a wait was queued rather than
	// granted; Position (1 = next) and WaitDeadline then describe the
	// owner's place in the queue.
	Queued       bool       `json:"queued,omitempty"`
	Position     int        `json:"position,omitempty"`
	WaitDeadline *time.Time `json:"wait_deadline,omitempty"`
	// Waiters is the number of queued acquirers.
	Waiters int `json:"waiters,omitempty"`
}
