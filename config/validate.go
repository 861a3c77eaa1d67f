package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/mandate-raft/mandate/fsm"
)

// Validate reports every problem with c at once (errors.Join), each
// wrapping ErrInvalid and naming its key. It does not touch the host.
func (c *Config) Validate() error { return errors.Join(c.validate(nil)...) }

// validator collects problems; keys in skip did not parse and are not
// checked again.
type validator struct {
	errs []error
	skip map[string]bool
}

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...)))
}

func (v *validator) ok(keys ...string) bool {
	for _, k := range keys {
		if v.skip[k] {
			return false
		}
	}
	return true
}

var logLevels = []string{"trace", "debug", "info", "warn", "error", "off"}

func (c *Config) validate(skip map[string]bool) []error {
	v := &validator{skip: skip}
	v.name("node_id", c.NodeID)
	if c.DataDir == "" && v.ok("data_dir") {
		v.add("data_dir", "required")
	}
	if c.FSM == "" {
		v.add("fsm", "required (registered: %s)", strings.Join(fsm.Names(), ", "))
	} else if _, err := fsm.Lookup(c.FSM); err != nil {
		// Wrapped, so callers can also test for fsm.ErrUnknownFSM.
		v.errs = append(v.errs, fmt.Errorf("%w: fsm: %w", ErrInvalid, err))
	}
	c.validateRaft(v)
	if v.ok("http.bind") {
		if err := checkHostPort(c.HTTP.Bind, true); err != nil {
			v.add("http.bind", "%v", err)
		} else if c.HTTP.Bind == c.Raft.Bind {
			v.add("http.bind", "%q is also raft.bind: each needs its own port", c.HTTP.Bind)
		}
	}
	if !contains(logLevels, c.Log.Level) && v.ok("log.level") {
		v.add("log.level", "%q is not one of %s", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" && v.ok("log.format") {
		v.add("log.format", "%q is not text or json", c.Log.Format)
	}
	return v.errs
}

func (c *Config) validateRaft(v *validator) {
	r := &c.Raft
	bindErr := checkHostPort(r.Bind, true)
	if v.ok("raft.bind") && bindErr != nil {
		v.add("raft.bind", "%v", bindErr)
	}
	// An advertise address defaulted from a bad bind would repeat its error.
	if v.ok("raft.advertise", "raft.bind") && (bindErr == nil || r.Advertise != r.Bind) {
		if err := checkHostPort(r.Advertise, false); err != nil {
			v.add("raft.advertise", "%v", err)
		}
	}
	v.name("raft.cluster_id", r.ClusterID)
	c.validatePeers(v)
	for i, j := range r.Join {
		if err := checkJoin(j); err != nil {
			v.add(fmt.Sprintf("raft.join[%d]", i), "%v", err)
		}
	}
	if v.ok("raft.heartbeat_timeout") && r.HeartbeatTimeout <= 0 {
		v.add("raft.heartbeat_timeout", "must be positive, have %v", r.HeartbeatTimeout)
	}
	if v.ok("raft.heartbeat_timeout", "raft.election_timeout") && r.ElectionTimeout <= r.HeartbeatTimeout {
		v.add("raft.election_timeout", "%v must be longer than raft.heartbeat_timeout %v (ten times is usual)", r.ElectionTimeout, r.HeartbeatTimeout)
	}
	if r.Store != "bolt" && r.Store != "wal" && r.Store != "memory" && v.ok("raft.store") {
		v.add("raft.store", "%q is not bolt, wal or memory", r.Store)
	}
	if v.ok("raft.snapshot.threshold") && r.Snapshot.Threshold == 0 {
		v.add("raft.snapshot.threshold", "must be at least 1")
	}
	if v.ok("raft.snapshot.interval") && r.Snapshot.Interval < 0 {
		v.add("raft.snapshot.interval", "must not be negative, have %v", r.Snapshot.Interval)
	}
	if v.ok("raft.snapshot.retain") && r.Snapshot.Retain < 1 {
		v.add("raft.snapshot.retain", "must keep at least 1 snapshot")
	}
	t := r.TLS
	if t.Enabled() && (t.CertFile == "" || t.KeyFile == "") {
		v.add("raft.tls", "half configured: cert_file and key_file must be set together (ca_file needs both)")
	}
}

func (c *Config) validatePeers(v *validator) {
	r := &c.Raft
	if !v.ok("raft.peers") {
		return
	}
	ids := map[string]int{}
	addrs := map[string]string{}
	for i, p := range r.Peers {
		key := fmt.Sprintf("raft.peers[%d]", i)
		if p.ID == "" {
			v.add(key+".id", "missing")
		} else if err := checkName(p.ID); err != nil {
			v.add(key+".id", "%v", err)
		} else if j, dup := ids[p.ID]; dup {
			v.add(key+".id", "%q already used by raft.peers[%d]", p.ID, j)
		} else {
			ids[p.ID] = i
		}
		if p.Address == "" {
			v.add(key+".address", "missing")
		} else if err := checkHostPort(p.Address, false); err != nil {
			v.add(key+".address", "%v", err)
		} else if other, dup := addrs[p.Address]; dup {
			v.add(key+".address", "%q is also the address of %q", p.Address, other)
		} else {
			addrs[p.Address] = p.ID
		}
	}
	if r.Bootstrap && len(r.Join) > 0 {
		v.add("raft.bootstrap", "set together with raft.join: a node either forms a new cluster or joins one")
	}
	if !r.Bootstrap {
		return
	}
	if len(r.Peers) == 0 {
		v.add("raft.peers", "raft.bootstrap needs the initial members listed here")
		return
	}
	i, self := ids[c.NodeID]
	switch {
	case c.NodeID == "":
	case !self:
		v.add("raft.peers", "raft.bootstrap is set but node_id %q is not among the peers", c.NodeID)
	case r.Peers[i].Address != r.Advertise && v.ok("raft.bind", "raft.advertise"):
		v.add(fmt.Sprintf("raft.peers[%d].address", i), "%q differs from this node's raft.advertise %q", r.Peers[i].Address, r.Advertise)
	}
}

// name checks a node or cluster id.
func (v *validator) name(key, s string) {
	if !v.ok(key) {
		return
	}
	if s == "" {
		v.add(key, "required")
		return
	}
	if err := checkName(s); err != nil {
		v.add(key, "%v", err)
	}
}

func checkName(s string) error {
	if len(s) > 64 {
		return fmt.Errorf("%q is longer than 64 characters", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may hold only letters, digits, '-', '_' and '.'", s)
		}
	}
	return nil
}

// checkHostPort checks a host:port. A listen address may have an empty or
// unspecified host; an address others dial may not.
func checkHostPort(s string, listen bool) error {
	if s == "" {
		return errors.New("required (host:port)")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", s, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return fmt.Errorf("%q has a bad port %q (want 1..65535)", s, port)
	}
	if !listen {
		if host == "" {
			return fmt.Errorf("%q has no host: others cannot dial it", s)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return fmt.Errorf("%q is the unspecified address: others cannot dial it", s)
		}
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q has a bad host", s)
	}
	return nil
}

// checkJoin accepts host:port or an http(s) URL.
func checkJoin(s string) error {
	if !strings.Contains(s, "://") {
		return checkHostPort(s, false)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme %q is not http or https", s, u.Scheme)
	}
	if u.Port() == "" {
		return fmt.Errorf("%q has no port", s)
	}
	return checkHostPort(u.Host, false)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
