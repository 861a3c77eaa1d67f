package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mandate-raft/mandate/config"
)

// node is one daemon child process of the demo cluster.
type node struct {
	id       string
	raftAddr string
	httpAddr string
	dir      string // data directory
	config   string // path of its YAML file
	logPath  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process exited
	exitErr error
	killed  bool // we killed it on purpose
}

// FreePorts returns n distinct TCP ports free on 127.0.0.1 right now,
// chosen below the kernel's ephemeral port range when it can tell: a node
// restarted after a crash must find its port still free, and a port from
// the ephemeral range may meanwhile have become some connection's source
// port. The listeners are held until all ports are chosen so that none
// repeats.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	lo, hi := 10000, ephemeralStart()
	for attempts := 0; len(ports) < n && hi > lo && attempts < 1000; attempts++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo)))
		if err != nil {
			continue // taken; try another
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for len(ports) < n { // no usable range known: let the kernel choose
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("demo: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ephemeralStart returns the first port of the kernel's ephemeral range,
// or 0 when it cannot be read (then the kernel picks ports).
func ephemeralStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(data), &lo, &hi); err != nil || lo <= 10000 {
		return 0
	}
	return lo
}

// configYAML is the node's configuration file: a 3-node ledger cluster
// bootstrapped from the peer list, bolt stores in the temp dir, and short
// Raft timeouts so that the failover shows within the demo's seconds.
func configYAML(n *node, all []*node, opts Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node_id: %s\n", n.id)
	fmt.Fprintf(&b, "data_dir: %q\n", n.dir)
	fmt.Fprintf(&b, "fsm: ledger\n")
	fmt.Fprintf(&b, "raft:\n")
	fmt.Fprintf(&b, "  bind: %s\n", n.raftAddr)
	fmt.Fprintf(&b, "  bootstrap: true\n")
	fmt.Fprintf(&b, "  peers:\n")
	for _, p := range all {
		fmt.Fprintf(&b, "    - {id: %s, address: %s}\n", p.id, p.raftAddr)
	}
	fmt.Fprintf(&b, "  heartbeat_timeout: %s\n", opts.HeartbeatTimeout)
	fmt.Fprintf(&b, "  election_timeout: %s\n", opts.ElectionTimeout)
	fmt.Fprintf(&b, "  store: bolt\n")
	fmt.Fprintf(&b, "http:\n")
	fmt.Fprintf(&b, "  bind: %s\n", n.httpAddr)
	fmt.Fprintf(&b, "log: {level: info, format: text}\n")
	return b.String()
}

// start launches the node's process, its output going to its log file.
func (n *node) start(exe string, env []string) error {
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("demo: open log of %s: %w", n.id, err)
	}
	cmd := exec.Command(exe, "serve", "--config", n.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(childEnv(), env...)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("demo: start %s: %w", n.id, err)
	}
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done, n.exitErr, n.killed = cmd, done, nil, false
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the current process is alive.
func (n *node) running() bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// unexpectedExit returns an error if the process died without being
// killed by the demo.
func (n *node) unexpectedExit() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil || n.killed {
		return nil
	}
	select {
	case <-n.done:
		return fmt.Errorf("node %s exited unexpectedly (%v); last log lines:\n%s", n.id, n.exitErr, tail(n.logPath, 15))
	default:
		return nil
	}
}

// kill sends sig and waits for the process to end (SIGKILL after grace).
func (n *node) kill(sig syscall.Signal, grace time.Duration) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.killed = true
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	_ = cmd.Process.Kill()
	<-done
}

// tail returns the last n lines of a file, for error reports.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + string(bytes.Join(lines, []byte("\n    ")))
}

// newNodes lays out the cluster in dir: ids, ports, data dirs, configs.
func newNodes(dir string, count int, opts Options) ([]*node, error) {
	ports, err := FreePorts(2 * count)
	if err != nil {
		return nil, err
	}
	nodes := make([]*node, count)
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		nodes[i] = &node{
			id:       id,
			raftAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i]),
			httpAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
			dir:      filepath.Join(dir, id),
			config:   filepath.Join(dir, id+".yaml"),
			logPath:  filepath.Join(dir, id+".log"),
		}
	}
	for _, n := range nodes {
		if err := os.WriteFile(n.config, []byte(configYAML(n, nodes, opts)), 0o644); err != nil {
			return nil, fmt.Errorf("demo: write config of %s: %w", n.id, err)
		}
	}
	return nodes, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var errInterrupted = errors.New("interrupted")

// childEnv is this process's environment without the variables that would
// override the nodes' configuration files (MANDATE_HTTP_BIND and the
// like): the demo's cluster must be the one its files describe.
func childEnv() []string {
	override := map[string]bool{}
	for _, k := range config.Keys() {
		override[config.EnvPrefix+"_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !override[name] {
			out = append(out, kv)
		}
	}
	return out
}
