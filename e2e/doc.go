// Package e2e holds process-level fault tests of real `mandate serve`
// daemons on 127.0.0.1, and the harness that runs them.
//
// TestMain builds the binary once. A Cluster starts N nodes from YAML
// files with bolt stores in the test's temporary directory and controls
// them: SIGKILL, SIGTERM, SIGSTOP/SIGCONT, restart on the same data. The
// nodes' Raft traffic passes through a Network of proxies owned by the
// test, which can cut any link in one or both directions, or delay it.
// Every process and proxy is stopped by the test's cleanup, and a failed
// test prints each node's log. NewCluster writes the files of founding
// members without starting any, for tests of how a cluster first forms;
// Cluster.CLI runs the `mandate` command line against a node as an
// operator would.
//
// The default run takes about a minute; -short skips every process test.
// MANDATE_E2E_CHAOS=1 adds randomized fault runs of the ledger, lock and
// linearizability checks, MANDATE_E2E_CHAOS_DURATION (default 60s) sets
// their length and MANDATE_E2E_SEED repeats a run's sequence of faults.
// The harness needs a Unix system (signals).
package e2e
