// Package bench is `mandate bench`: a closed-loop load generator that
// measures throughput and latency percentiles, either against a running
// cluster over HTTP or against three Raft nodes embedded in the process.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Result is what one run measured.
type Result struct {
	// Mode is "http" or "embedded"; Workload the operation driven.
	Mode     string `json:"mode"`
	Workload string `json:"workload"`
	// Store is the log store engine of an embedded run.
	Store   string `json:"store,omitempty"`
	Clients int    `json:"clients"`
	// Payload is the command size in bytes, where the workload has one.
	Payload int `json:"payload_bytes,omitempty"`
	// Ops counts operations that succeeded; Errors those that failed.
	Ops    uint64 `json:"ops"`
	Errors uint64 `json:"errors"`
	// FirstError is the first failure seen, if any.
	FirstError string `json:"first_error,omitempty"`
	// Elapsed is the measured time; OpsPerSec is Ops/Elapsed.
	Elapsed   time.Duration `json:"elapsed_ns"`
	OpsPerSec float64       `json:"ops_per_sec"`
	// Latency percentiles of successful operations.
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
}

// op performs one operation for client c (its seq-th).
type op func(ctx context.Context, c int, seq uint64) error

// runLoad runs clients closed loops of o for d, with a progress line on
// progress (nil for none), and measures them.
func runLoad(ctx context.Context, clients int, d time.Duration, o op, progress io.Writer, live bool) Result {
	var ok, failed atomic.Uint64
	var firstErr atomic.Value
	lat := make([][]time.Duration, clients)
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			// Each client derives its per-operation contexts from its own
			// parent: children of one shared context would all register
			// under its single mutex, a contention of the harness's own.
			cctx, ccancel := context.WithCancel(lctx)
			defer ccancel()
			for seq := uint64(0); lctx.Err() == nil; seq++ {
				t0 := time.Now()
				err := o(cctx, c, seq)
				if err != nil {
					if lctx.Err() != nil {
						break // cut short by the end of the run: not a failure
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
				ok.Add(1)
			}
			lat[c] = mine
		}()
	}
	stopProg := make(chan struct{})
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		if progress == nil {
			return
		}
		every := time.Second
		if live {
			every = 250 * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopProg:
				if live {
					fmt.Fprint(progress, "\r\033[K")
				}
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				line := fmt.Sprintf("[%5.1fs] %d ops (%.0f/s), %d errors", el, ok.Load(), float64(ok.Load())/el, failed.Load())
				if live {
					fmt.Fprintf(progress, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(progress, line)
				}
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProg)
	<-progDone

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := Result{Clients: clients, Ops: ok.Load(), Errors: failed.Load(), Elapsed: elapsed}
	if v := firstErr.Load(); v != nil {
		r.FirstError = v.(string)
	}
	r.OpsPerSec = float64(r.Ops) / elapsed.Seconds()
	r.P50, r.P90, r.P99, r.P999 = pct(all, 0.50), pct(all, 0.90), pct(all, 0.99), pct(all, 0.999)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// Print writes results as a table, or as JSON (one array) when asJSON.
func Print(w io.Writer, results []Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tworkload\tstore\tclients\tpayload\tops\tops/s\tp50\tp90\tp99\tp99.9\tmax\terrors\t")
	for _, r := range results {
		store := r.Store
		if store == "" {
			store = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t\n", r.Mode, r.Workload, store, r.Clients, r.Payload,
			r.Ops, r.OpsPerSec, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.P999), ms(r.Max), r.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "first error (%s, %d clients): %s\n", r.Workload, r.Clients, strings.TrimSpace(r.FirstError))
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
