package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/daemon/bench"
	"github.com/mandate-raft/mandate/logstore/ondisk"
)

func newBenchCmd() *cobra.Command {
	var (
		addrs    []string
		embedded bool
		clients  []int
		payload  int
		duration time.Duration
		workload string
		asJSON   bool
		dir      string
		noSync   bool
		store    string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency: against a cluster (--addr) or 3 embedded nodes (--embedded)",
		Long: `bench runs closed-loop clients for --duration and prints ops/s and latency
percentiles (p50, p90, p99, p99.9).

  mandate bench --addr 127.0.0.1:8001,127.0.0.1:8002 --workload transfer
  mandate bench --embedded --clients 1,16,256

--embedded starts three Raft nodes in this process over real TCP on 127.0.0.1
with bolt stores in a temporary directory and proposes --payload-byte commands
through Node.Apply on the leader. --clients takes a list: one run per value.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if embedded == (len(addrs) > 0) {
				return usageError{fmt.Errorf("give exactly one of --addr or --embedded")}
			}
			var prog = cmd.ErrOrStderr()
			live := isTerminal(prog)
			var results []bench.Result
			for _, c := range clients {
				if c <= 0 {
					return usageError{fmt.Errorf("--clients values must be positive, got %d", c)}
				}
				var r bench.Result
				var err error
				if embedded {
					r, err = bench.RunEmbedded(cmd.Context(), bench.EmbeddedOptions{
						Clients: c, Duration: duration, Payload: payload, Workload: workload,
						Dir: dir, Store: store, UnsafeNoSync: noSync, Progress: prog, Live: live,
					})
				} else {
					r, err = bench.RunHTTP(cmd.Context(), bench.HTTPOptions{
						Addrs: addrs, Clients: c, Duration: duration, Workload: workload,
						Progress: prog, Live: live,
					})
				}
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			return bench.Print(cmd.OutOrStdout(), results, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&addrs, "addr", nil, "HTTP addresses of the cluster's nodes (HTTP mode)")
	f.BoolVar(&embedded, "embedded", false, "benchmark 3 in-process Raft nodes over TCP with bolt stores")
	f.IntSliceVar(&clients, "clients", []int{16}, "concurrent clients (a list runs once per value)")
	f.IntVar(&payload, "payload", 128, "embedded: command size in bytes")
	f.DurationVar(&duration, "duration", 10*time.Second, "length of each run")
	f.StringVar(&workload, "workload", "", "HTTP: transfer (default), deposit, balance, stale-balance; embedded: apply (default)")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.StringVar(&dir, "dir", "", "embedded: where to create the temporary data directory")
	f.StringVar(&store, "store", ondisk.Bolt, "embedded: the log store engine, "+strings.Join(ondisk.Engines, " or "))
	f.BoolVar(&noSync, "unsafe-no-sync", false, "embedded: skip fsync in the log stores (to measure its cost; never for real data)")
	return cmd
}
