// Package daemon runs one Mandate node: it opens the node's stores (a bolt
// log and a file snapshot store, or memory for tests), starts the TCP
// transport and the Raft runtime around the configured FSM, and serves the
// HTTP/JSON API.
//
// # The HTTP API
//
// Every node serves every request. Writes sent to a follower are forwarded
// to the leader and answered with the FSM's result once this node applied
// them. Reads are linearizable by default (a ReadIndex round confirms the
// commit index with a quorum, then the node waits until it applied that
// far); ?consistency=bounded answers from the local replica when it is
// close enough to the leader (max_entries, max_lag), and
// ?consistency=stale answers from it as it is.
//
//	GET    /v1/status                          the node's view: role, term, leader, indexes, members
//	GET    /v1/cluster/members                 the configuration
//	POST   /v1/cluster/members                 {"id","address","role"} add a server (leader only)
//	DELETE /v1/cluster/members/{id}            remove a server (leader only)
//	POST   /v1/cluster/transfer-leadership     {"to"} hand leadership over (leader only)
//	POST   /v1/cluster/snapshot                snapshot this node's FSM now
//	POST   /v1/ledger/deposit                  {"request_id","account","amount"}
//	POST   /v1/ledger/withdraw                 {"request_id","account","amount"}
//	POST   /v1/ledger/transfer                 {"request_id","from","to","amount"}
//	GET    /v1/ledger/accounts/{id}            one balance
//	GET    /v1/ledger/accounts?after=&limit=   a page of accounts in id order
//	GET    /v1/ledger/audit                    accounts, total, deposited, withdrawn
//	POST   /v1/locks/{name}/acquire            {"request_id","owner","ttl_ms","wait_ms"}
//	POST   /v1/locks/{name}/renew              {"request_id","owner","token","ttl_ms"}
//	POST   /v1/locks/{name}/release            {"request_id","owner","token"}
//	GET    /v1/locks/{name}                    holder, fencing token, expiry
//	POST   /v1/fsm/apply                       {"command"|"command_base64","request_id"} any other FSM
//	GET    /v1/fsm/query?q=                    a query to an FSM that implements fsm.Querier
//	GET    /metrics                            Prometheus
//	GET    /healthz, /readyz                   liveness; readiness (a leader is known, caught up)
//
// Writes that carry a request_id are exactly-once: a retry with the same
// id is answered with the first attempt's result. Ledger writes always
// carry one (the node or the client package fills it in); lock writes
// when the caller gives one. Request bodies are one JSON object of at
// most 1 MiB; unknown fields are refused.
//
// Errors are {"error":{"code":"...","message":"..."}} with a fitting
// status: 400 invalid_json / invalid_argument, 404 unknown_account /
// unknown_lock / unknown_member / not_found, 405 method_not_allowed (with
// Allow), 409 insufficient_funds / overflow / lock_held / wrong_token /
// not_holder / membership_conflict / request_conflict, 413 body_too_large, 422 fsm_rejected (a custom FSM's
// own verdict, its message the FSM's), 501 not_implemented, 421 not_leader
// (leader-only requests sent elsewhere), 503 no_leader / not_committed /
// outcome_unknown / unavailable / too_stale with Retry-After. no_leader and not_committed
// mean nothing happened, so a retry is safe; outcome_unknown means the
// write may have happened, so retry only with the same request id. The
// codes are constants of package client.
package daemon
