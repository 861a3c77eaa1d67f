// Command mandate runs a Mandate node (serve), talks to a running cluster
// (ledger, lock, fsm, cluster), rewrites a stopped node's membership
// (recover) and shows the system at work (demo, bench). The commands live
// in package cli, so that a program with its own FSM can run them too.
package main

import "github.com/mandate-raft/mandate/cli"

func main() { cli.Main() }
