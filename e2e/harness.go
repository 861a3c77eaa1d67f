//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/client"
)

// Binary is the path of the `mandate` binary the tests run; TestMain
// builds it once per test binary.
var Binary string

// Options describe a cluster to start.
type Options struct {
	// Nodes is the number of voters, named n1, n2, ...
	Nodes int
	// FSM is the registered state machine: "ledger" or "lock".
	FSM string
	// HeartbeatTimeout and ElectionTimeout default to 50 ms and 500 ms:
	// short enough that a failover takes a second, long enough for a
	// loaded 2-core machine.
	HeartbeatTimeout, ElectionTimeout time.Duration
	// TrailingLogs, when not 0, is raft.snapshot.trailing_logs: how many
	// entries a snapshot leaves in the log. A small value makes a node
	// that lost its log catch up by snapshot rather than by entries.
	TrailingLogs uint64
	// Store is raft.store: "bolt" or "wal". Default: the MANDATE_E2E_STORE
	// environment variable, else bolt.
	Store string
}

// Cluster is a set of `mandate serve` processes on 127.0.0.1 whose Raft
// traffic passes through Net. Everything it starts is stopped by the
// test's cleanup, and a failed test prints every node's log.
type Cluster struct {
	t     testing.TB
	opts  Options
	Nodes []*Node
	Net   *Network
	http  *http.Client
}

// Node is one daemon process, restartable on the same data directory and
// ports.
type Node struct {
	ID string
	// RaftAddr is where the node's transport listens; ProxyAddr is the
	// address the cluster knows it by (its proxy in Net).
	RaftAddr, ProxyAddr string
	// HTTPAddr is the node's API, dialed directly by clients.
	HTTPAddr string
	Dir      string // data directory
	Config   string // YAML file
	LogPath  string // stdout and stderr of every run, appended

	// C is a client of this node only.
	C *client.Client

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process exited
	exitErr error
	runs    int
	stopped bool // the test stopped or killed it on purpose
}

// reserveAddrs returns n distinct 127.0.0.1 addresses free right now,
// and a function that releases them (call it just before the processes
// bind them). The ports are taken below the kernel's ephemeral range when
// it is known: a node restarted after a kill binds its old ports again,
// and an ephemeral port may meanwhile have become some other
// connection's local port, while ports below the range are only taken by
// explicit binds.
func reserveAddrs(n int) ([]string, func(), error) {
	var ls []net.Listener
	release := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	lo, hi := 10000, ephemeralStart()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	var out []string
	for tries := 0; len(out) < n; tries++ {
		addr := "127.0.0.1:0"
		if hi > lo+1000 && tries < 1000 {
			addr = fmt.Sprintf("127.0.0.1:%d", lo+rng.IntN(hi-lo))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr != "127.0.0.1:0" {
				continue
			}
			release()
			return nil, nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, release, nil
}

// ephemeralStart is the first port of the kernel's ephemeral range, or 0
// when unknown.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return v
}

// StartCluster writes one YAML file per node, starts every node, and
// returns once all of them serve HTTP and agree on a leader.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := NewCluster(t, opts)
	for _, n := range c.Nodes {
		c.Start(n)
	}
	c.WaitLeader(c.Nodes...)
	return c
}

// NewCluster writes one YAML file per node, every one of them a founding
// member (raft.bootstrap: true), and starts no process: the test starts
// the nodes it wants with Start. Each node's proxy listens already; its
// own ports are reserved below the ephemeral range and released for Start
// to bind.
func NewCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts daemon processes; skipped with -short")
	}
	if Binary == "" {
		t.Fatal("e2e: the mandate binary was not built (TestMain)")
	}
	if opts.HeartbeatTimeout == 0 {
		opts.HeartbeatTimeout = 50 * time.Millisecond
	}
	if opts.Store == "" {
		opts.Store = os.Getenv("MANDATE_E2E_STORE")
	}
	if opts.Store == "" {
		opts.Store = "bolt"
	}
	if opts.ElectionTimeout == 0 {
		opts.ElectionTimeout = 500 * time.Millisecond
	}
	dir := t.TempDir()
	c := &Cluster{
		t: t, opts: opts,
		Net:  newNetwork(func(f string, a ...any) { t.Logf(f, a...) }),
		http: &http.Client{Timeout: 2 * time.Second},
	}
	// Registered first, so it runs last: after every process is gone.
	t.Cleanup(c.Net.Close)
	addrs, release, err := reserveAddrs(2 * opts.Nodes)
	if err != nil {
		t.Fatalf("e2e: free ports: %v", err)
	}
	defer release() // on an early failure; closing twice is harmless
	for i := range opts.Nodes {
		n := &Node{ID: fmt.Sprintf("n%d", i+1), RaftAddr: addrs[2*i], HTTPAddr: addrs[2*i+1]}
		n.Dir = filepath.Join(dir, n.ID)
		n.Config = filepath.Join(dir, n.ID+".yaml")
		n.LogPath = filepath.Join(dir, n.ID+".log")
		if n.ProxyAddr, err = c.Net.listen(n.ID, n.RaftAddr); err != nil {
			t.Fatal(err)
		}
		if n.C, err = client.New([]string{n.HTTPAddr}, client.WithHTTPClient(&http.Client{Timeout: 15 * time.Second})); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if err := os.WriteFile(n.Config, []byte(c.yaml(n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.cleanup)
	release()
	return c
}

// yaml is the node's configuration: every node knows the others by their
// proxies, and advertises its own proxy.
func (c *Cluster) yaml(n *Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node_id: %s\n", n.ID)
	fmt.Fprintf(&b, "data_dir: %q\n", n.Dir)
	fmt.Fprintf(&b, "fsm: %s\n", c.opts.FSM)
	fmt.Fprintf(&b, "raft:\n  bind: %s\n  advertise: %s\n  bootstrap: true\n  peers:\n", n.RaftAddr, n.ProxyAddr)
	for _, p := range c.Nodes {
		fmt.Fprintf(&b, "    - {id: %s, address: %s}\n", p.ID, p.ProxyAddr)
	}
	fmt.Fprintf(&b, "  cluster_id: e2e\n  heartbeat_timeout: %s\n  election_timeout: %s\n  store: %s\n",
		c.opts.HeartbeatTimeout, c.opts.ElectionTimeout, c.opts.Store)
	if c.opts.TrailingLogs != 0 {
		fmt.Fprintf(&b, "  snapshot: {trailing_logs: %d}\n", c.opts.TrailingLogs)
	}
	fmt.Fprintf(&b, "http:\n  bind: %s\n", n.HTTPAddr)
	fmt.Fprintf(&b, "log: {level: info, format: text}\nmetrics: {enabled: false}\n")
	return b.String()
}

// IDs returns the ids of the given nodes (all when none given).
func (c *Cluster) IDs(nodes ...*Node) []string {
	if len(nodes) == 0 {
		nodes = c.Nodes
	}
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

// Node returns the node with the given id.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	c.t.Fatalf("e2e: no node %q", id)
	return nil
}

// Others returns every node but the given ones.
func (c *Cluster) Others(not ...*Node) []*Node {
	var out []*Node
outer:
	for _, n := range c.Nodes {
		for _, x := range not {
			if n == x {
				continue outer
			}
		}
		out = append(out, n)
	}
	return out
}

// Client returns a client that knows every node.
func (c *Cluster) Client() *client.Client {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.HTTPAddr)
	}
	cl, err := client.New(addrs, client.WithHTTPClient(&http.Client{Timeout: 15 * time.Second}))
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// childEnv is the test's environment without MANDATE_ variables, which
// the daemon would read as configuration.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MANDATE_") {
			env = append(env, kv)
		}
	}
	return env
}

// Start launches n's process (again, on the same data directory, when it
// ran before) and waits until its HTTP API answers.
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	n.mu.Lock()
	if n.cmd != nil && !isClosed(n.done) {
		n.mu.Unlock()
		c.t.Fatalf("e2e: %s is already running", n.ID)
	}
	n.runs++
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.mu.Unlock()
		c.t.Fatal(err)
	}
	fmt.Fprintf(logf, "%s%d of %s =====\n", runMarker, n.runs, n.ID)
	cmd := exec.Command(Binary, "serve", "--config", n.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = childEnv()
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		logf.Close()
		c.t.Fatalf("e2e: start %s: %v", n.ID, err)
	}
	done := make(chan struct{})
	n.cmd, n.done, n.exitErr, n.stopped = cmd, done, nil, false
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(done)
	}()
	c.Eventually(fmt.Sprintf("%s serving HTTP", n.ID), 20*time.Second, func() error {
		if isClosed(done) {
			return fmt.Errorf("%s exited: %v", n.ID, n.ExitErr())
		}
		_, err := c.Status(n)
		return err
	})
}

func isClosed(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// runMarker starts what Start writes into a node's log before each run.
const runMarker = "===== e2e: run "

// RunLog returns what n's current run (or its last one, when it is not
// running) wrote to its log so far.
func (n *Node) RunLog() (string, error) {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "", fmt.Errorf("e2e: log of %s: %w", n.ID, err)
	}
	s := string(b)
	if i := strings.LastIndex(s, runMarker); i >= 0 {
		s = s[i:]
	}
	return s, nil
}

// Running reports whether n's process is alive (stopped with SIGSTOP
// counts as alive).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && !isClosed(n.done)
}

// ExitErr is how n's last process ended (nil while running or after a
// clean exit).
func (n *Node) ExitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exitErr
}

func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || isClosed(n.done) {
		return fmt.Errorf("e2e: %s is not running", n.ID)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		n.stopped = true
	}
	return n.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to n and waits until the process is gone.
func (c *Cluster) Kill(n *Node) {
	c.t.Helper()
	if err := n.signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	n.wait(c.t, 10*time.Second)
}

// Terminate sends SIGTERM to n and waits for a clean exit.
func (c *Cluster) Terminate(n *Node) {
	c.t.Helper()
	if err := n.signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	n.wait(c.t, 20*time.Second)
	if err := n.ExitErr(); err != nil {
		c.t.Errorf("e2e: %s exited with %v after SIGTERM", n.ID, err)
	}
}

// Pause stops n with SIGSTOP; Resume continues it with SIGCONT.
func (c *Cluster) Pause(n *Node) {
	c.t.Helper()
	if err := n.signal(syscall.SIGSTOP); err != nil {
		c.t.Fatal(err)
	}
}

// Resume continues a node paused with Pause.
func (c *Cluster) Resume(n *Node) {
	c.t.Helper()
	if err := n.signal(syscall.SIGCONT); err != nil {
		c.t.Fatal(err)
	}
}

// Restart kills n with SIGKILL if it runs, and starts it again on the same
// data directory.
func (c *Cluster) Restart(n *Node) {
	c.t.Helper()
	if n.Running() {
		c.Kill(n)
	}
	c.Start(n)
}

func (n *Node) wait(t testing.TB, d time.Duration) {
	t.Helper()
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("e2e: %s still running %v after the signal", n.ID, d)
	}
}

// cleanup kills every process, reports any that died on its own, and
// prints every node's log if the test failed.
func (c *Cluster) cleanup() {
	for _, n := range c.Nodes {
		n.mu.Lock()
		cmd, done, stopped := n.cmd, n.done, n.stopped
		n.mu.Unlock()
		if cmd == nil {
			continue
		}
		if isClosed(done) {
			if !stopped {
				c.t.Errorf("e2e: %s exited by itself: %v", n.ID, n.ExitErr())
			}
			continue
		}
		_ = cmd.Process.Kill()
		<-done
	}
	if c.t.Failed() {
		for _, n := range c.Nodes {
			c.t.Logf("----- log of %s (last 48 KiB) -----\n%s", n.ID, tail(n.LogPath, 48<<10))
		}
	}
}

// tail returns the last max bytes of the file at path.
func tail(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return err.Error()
	}
	return string(buf)
}

// CLI runs `mandate <args> --addr <n's HTTP address> --json` as an
// operator would, and decodes its standard output into out.
func (c *Cluster) CLI(n *Node, out any, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args = append(args, "--addr", n.HTTPAddr, "--json")
	cmd := exec.CommandContext(ctx, Binary, args...)
	cmd.Env = childEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("e2e: mandate %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("e2e: mandate %s printed %q: %w", strings.Join(args, " "), b, err)
	}
	return nil
}

// Status asks n for its /v1/status, with a short timeout.
func (c *Cluster) Status(n *Node) (client.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return n.C.NodeStatus(ctx, n.HTTPAddr)
}

// Eventually retries f every 50 ms until it returns nil, and fails the
// test with f's last error after d.
func (c *Cluster) Eventually(what string, d time.Duration, f func() error) {
	c.t.Helper()
	if err := poll(d, f); err != nil {
		c.t.Fatalf("e2e: %s: still failing after %v: %v", what, d, err)
	}
}

// poll retries f every 50 ms until it returns nil or d passed; it returns
// f's last error.
func poll(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errNoLeader is returned by leaderAmong when the nodes do not agree on a
// leader.
var errNoLeader = errors.New("no agreed leader")

// leaderAmong returns the node of nodes that says it leads, provided every
// one of nodes names it as leader.
func (c *Cluster) leaderAmong(nodes []*Node) (*Node, client.Status, error) {
	var lead *Node
	var leadSt client.Status
	ids := map[string]bool{}
	for _, n := range nodes {
		st, err := c.Status(n)
		if err != nil {
			return nil, client.Status{}, fmt.Errorf("%s: %w", n.ID, err)
		}
		ids[st.LeaderID] = true
		if st.State == "Leader" {
			if lead != nil {
				return nil, client.Status{}, fmt.Errorf("%w: both %s and %s say they lead", errNoLeader, lead.ID, n.ID)
			}
			lead, leadSt = n, st
		}
	}
	if lead == nil || len(ids) != 1 || !ids[lead.ID] {
		return nil, client.Status{}, fmt.Errorf("%w: leaders named %v", errNoLeader, keys(ids))
	}
	return lead, leadSt, nil
}

// WaitLeader waits until one of nodes leads and all of them name it, and
// returns it.
func (c *Cluster) WaitLeader(nodes ...*Node) *Node {
	c.t.Helper()
	var lead *Node
	c.Eventually("a leader that "+strings.Join(c.IDs(nodes...), ",")+" agree on", 30*time.Second, func() error {
		var err error
		lead, _, err = c.leaderAmong(nodes)
		return err
	})
	return lead
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
