package fsm

// Querier is an FSM that answers read-only queries, which the daemon
// serves on GET /v1/fsm/query for FSMs without routes of their own.
//
// The daemon calls Query from HTTP handler goroutines, concurrently with
// Apply and with other queries, so the FSM must guard its state itself
// (a sync.RWMutex is enough). Before a linearizable query the daemon
// waits until the FSM applied every command committed before the request;
// Query itself must not change the state.
type Querier interface {
	// Query answers q (its format is the FSM's own) with a value the
	// daemon encodes as JSON. An error is the query's own verdict (an
	// unknown key, a malformed query) and is returned to the caller.
	Query(q []byte) (any, error)
}
