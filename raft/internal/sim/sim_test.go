package sim

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// seedsFromEnv returns the seeds a simulation test runs: exactly
// MANDATE_SIM_SEED if set, else MANDATE_SIM_SEEDS seeds (default def)
// starting at 1.
func seedsFromEnv(t *testing.T, def int) []int64 {
	t.Helper()
	if v := os.Getenv("MANDATE_SIM_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("MANDATE_SIM_SEED=%q: %v", v, err)
		}
		return []int64{s}
	}
	n := def
	if v := os.Getenv("MANDATE_SIM_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("MANDATE_SIM_SEEDS=%q: want a positive count", v)
		}
	}
	seeds := make([]int64, n)
	for i := range seeds {
		seeds[i] = int64(i + 1)
	}
	return seeds
}

// runSeeds runs cfg(seed) for every seed on all CPUs and returns the
// results in seed order.
func runSeeds(seeds []int64, cfg func(seed int64) Config) []Result {
	results := make([]Result, len(seeds))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c := cfg(seeds[i])
				if len(seeds) == 1 && os.Getenv("MANDATE_SIM_TRACE") == "1" {
					c.Trace = os.Stderr
				}
				results[i] = Run(c)
			}
		}()
	}
	for i := range seeds {
		work <- i
	}
	close(work)
	wg.Wait()
	return results
}

// report fails the test for every violating result (the first few in
// full), each with the command that replays it.
func report(t *testing.T, results []Result, testName string) {
	t.Helper()
	shown := 0
	for _, r := range results {
		v := r.Violation
		if v == nil {
			continue
		}
		if shown < 3 {
			t.Errorf("%v\nreplay: MANDATE_SIM_SEED=%d go test ./raft/internal/sim -run '%s' -v", v, v.Seed, testName)
		} else {
			t.Errorf("seed %d: %s violated (replay with MANDATE_SIM_SEED=%d)", v.Seed, v.Property, v.Seed)
		}
		shown++
	}
}

// randomFaultsConfig is the random-fault run of a seed: odd seeds run 3
// nodes, even seeds 5, so a seed alone names its run.
func randomFaultsConfig(seed int64) Config {
	nodes := 3
	if seed%2 == 0 {
		nodes = 5
	}
	return Config{Seed: seed, Scenario: RandomFaults(nodes)}
}

// TestSimRandomFaults is the main fuzz loop: every seed runs a 3- or
// 5-node cluster through random faults with the safety properties checked
// after every step, then heals it and requires liveness and that every
// acknowledged write is in the committed log exactly once.
func TestSimRandomFaults(t *testing.T) {
	seeds := seedsFromEnv(t, 300)
	results := runSeeds(seeds, randomFaultsConfig)
	report(t, results, "TestSimRandomFaults")
	// A run that exercised nothing proves nothing.
	var total Stats
	for i, r := range results {
		if r.Violation == nil && (r.Stats.Acked == 0 || r.Stats.FinalCommit < 2) {
			t.Errorf("seed %d: void run, nothing was committed: %+v", seeds[i], r.Stats)
		}
		total.add(r.Stats)
	}
	if len(seeds) >= 50 {
		if total.Crashes == 0 || total.Dropped == 0 || total.Duplicated == 0 || total.SnapInstalls == 0 || total.Elections < len(seeds) {
			t.Errorf("the faults did not run: %+v", total)
		}
	}
	if testing.Verbose() {
		t.Logf("%d seeds: %+v", len(seeds), total)
	}
}

func (s *Stats) add(o Stats) {
	s.Steps += o.Steps
	s.Refused += o.Refused
	s.Sent += o.Sent
	s.Delivered += o.Delivered
	s.Dropped += o.Dropped
	s.Duplicated += o.Duplicated
	s.Misrouted += o.Misrouted
	s.Elections += o.Elections
	s.Crashes += o.Crashes
	s.Proposed += o.Proposed
	s.ProposalsDropped += o.ProposalsDropped
	s.Acked += o.Acked
	s.Applied += o.Applied
	s.Snapshots += o.Snapshots
	s.SnapInstalls += o.SnapInstalls
	s.Reads += o.Reads
	s.ConfChanges += o.ConfChanges
	s.FinalCommit += o.FinalCommit
}

// TestSimScenarios runs the targeted scenarios of the test plan, a few
// seeds each (MANDATE_SIM_SEEDS scales it).
func TestSimScenarios(t *testing.T) {
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			def := 6
			if sc.DefaultSeeds > 0 {
				def = sc.DefaultSeeds
			}
			seeds := seedsFromEnv(t, def)
			results := runSeeds(seeds, func(seed int64) Config { return Config{Seed: seed, Scenario: sc} })
			report(t, results, "TestSimScenarios/"+regexp.QuoteMeta(sc.Name)+"$")
			var total Stats
			for i, r := range results {
				if r.Violation == nil && r.Stats.Acked == 0 {
					t.Errorf("seed %d: void run, nothing was acknowledged: %+v", seeds[i], r.Stats)
				}
				total.add(r.Stats)
			}
			if testing.Verbose() {
				t.Logf("%d seeds: %+v", len(seeds), total)
			}
		})
	}
}

// TestSimDeterminism runs the same seeds twice: the traces must be
// identical, and different seeds must give different traces.
func TestSimDeterminism(t *testing.T) {
	seen := map[uint64]int64{}
	for _, seed := range []int64{1, 2, 7} {
		a := Run(randomFaultsConfig(seed))
		b := Run(randomFaultsConfig(seed))
		if a.TraceHash != b.TraceHash || a.Stats != b.Stats {
			t.Errorf("seed %d ran twice differently: trace %x vs %x\n%+v\n%+v", seed, a.TraceHash, b.TraceHash, a.Stats, b.Stats)
		}
		if other, ok := seen[a.TraceHash]; ok {
			t.Errorf("seeds %d and %d gave the same trace %x", other, seed, a.TraceHash)
		}
		seen[a.TraceHash] = seed
	}
}

func ExampleRun() {
	res := Run(Config{Seed: 42, Scenario: RandomFaults(3)})
	fmt.Println(res.Violation == nil)
	// Output: true
}
