package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// HTTPOptions configures a run against a running cluster.
type HTTPOptions struct {
	// Addrs are the HTTP addresses of the nodes; clients spread over them.
	Addrs []string
	// Clients is the number of concurrent closed-loop clients. Default 16.
	Clients int
	// Duration of the measured run. Default 10 s.
	Duration time.Duration
	// Workload is one of HTTPWorkloads. Default "transfer".
	Workload string
	// Accounts is how many accounts the ledger workloads use. Default 1000.
	Accounts int
	// Progress receives a progress line; nil for none. Live redraws it.
	Progress io.Writer
	Live     bool
}

// HTTPWorkloads are the workloads of HTTP mode: ledger writes (deposit,
// transfer), linearizable reads (balance) and local reads
// (stale-balance).
var HTTPWorkloads = []string{"transfer", "deposit", "balance", "stale-balance"}

// RunHTTP drives a ledger cluster over its HTTP API.
func RunHTTP(ctx context.Context, o HTTPOptions) (Result, error) {
	if o.Clients <= 0 {
		o.Clients = 16
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Workload == "" {
		o.Workload = "transfer"
	}
	if o.Accounts < 2 {
		o.Accounts = 1000
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = o.Clients + 8
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	clients := make([]*client.Client, o.Clients)
	for i := range clients {
		addrs := make([]string, 0, len(o.Addrs))
		for k := range o.Addrs {
			addrs = append(addrs, o.Addrs[(i+k)%len(o.Addrs)])
		}
		c, err := client.New(addrs, client.WithHTTPClient(hc))
		if err != nil {
			return Result{}, err
		}
		clients[i] = c
	}
	acct := func(i int) string { return fmt.Sprintf("bench-%06d", i) }
	rngs := make([]*rand.Rand, o.Clients)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	}
	var do op
	switch o.Workload {
	case "deposit":
		do = func(ctx context.Context, c int, _ uint64) error {
			_, err := clients[c].Deposit(ctx, client.DepositRequest{Account: acct(rngs[c].IntN(o.Accounts)), Amount: 1})
			return err
		}
	case "transfer", "balance", "stale-balance":
		// Fund the accounts so that transfers succeed and reads find them.
		for i := range o.Accounts {
			if _, err := clients[0].Deposit(ctx, client.DepositRequest{Account: acct(i), Amount: 1 << 40}); err != nil {
				return Result{}, fmt.Errorf("bench: fund %s: %w", acct(i), err)
			}
		}
		switch o.Workload {
		case "transfer":
			do = func(ctx context.Context, c int, _ uint64) error {
				from := rngs[c].IntN(o.Accounts)
				to := (from + 1 + rngs[c].IntN(o.Accounts-1)) % o.Accounts
				_, err := clients[c].Transfer(ctx, client.TransferRequest{From: acct(from), To: acct(to), Amount: 1})
				return err
			}
		case "balance", "stale-balance":
			cons := client.Linearizable
			if o.Workload == "stale-balance" {
				cons = client.Stale
			}
			do = func(ctx context.Context, c int, _ uint64) error {
				_, err := clients[c].Balance(ctx, acct(rngs[c].IntN(o.Accounts)), cons)
				return err
			}
		}
	default:
		return Result{}, fmt.Errorf("bench: unknown HTTP workload %q (have %v)", o.Workload, HTTPWorkloads)
	}
	r := runLoad(ctx, o.Clients, o.Duration, do, o.Progress, o.Live)
	r.Mode, r.Workload = "http", o.Workload
	return r, ctx.Err()
}
