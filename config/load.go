package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix starts every environment variable Load reads: the key, upper
// case, with dots as underscores (MANDATE_RAFT_SNAPSHOT_RETAIN).
const EnvPrefix = "MANDATE"

// Options say where Load reads from; every field may be zero.
type Options struct {
	// Path is the YAML file; empty means defaults, environment and flags
	// only.
	Path string
	// Flags, when set, overrides keys with the flags of the set that were
	// given on the command line (see AddFlags for the names).
	Flags *pflag.FlagSet
	// NoEnv ignores the environment (for tests and tools).
	NoEnv bool
}

// Load reads the configuration with precedence flags > environment > file
// > defaults, and validates it. It reports every problem at once
// (errors.Join), each wrapping ErrInvalid or ErrUnknownKey and naming its
// key. It does not touch the host: see CheckHost.
func Load(opts Options) (*Config, error) {
	var data []byte
	if opts.Path != "" {
		var err error
		if data, err = os.ReadFile(opts.Path); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	return load(opts, data)
}

// load is Load once the file, if any, was read into data.
func load(opts Options, data []byte) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	var errs []error
	if opts.Path != "" {
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("config: %s: %w", opts.Path, err)
		}
		errs = append(errs, unknownKeys(v.AllSettings())...)
	}
	for k, d := range defaults() {
		v.SetDefault(k, d)
	}
	if !opts.NoEnv {
		v.SetEnvPrefix(EnvPrefix)
		v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
		v.AutomaticEnv()
	}
	if opts.Flags != nil {
		for _, key := range leafKeys {
			if f := opts.Flags.Lookup(FlagName(key)); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, fmt.Errorf("config: bind flag --%s: %w", f.Name, err)
				}
			}
		}
	}
	r := reader{v: v}
	c := r.config()
	errs = append(errs, r.errs...)
	// Values that did not parse are zero; validation skips them rather
	// than repeat the problem.
	errs = append(errs, c.validate(r.bad)...)
	if len(errs) > 0 {
		if opts.Path != "" {
			return nil, fmt.Errorf("config %s: %w", opts.Path, errors.Join(errs...))
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// FlagName is the command-line flag for a key: dots and underscores become
// dashes (raft.heartbeat_timeout is --raft-heartbeat-timeout).
func FlagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// AddFlags defines a flag for each commonly overridden key on fs, so that
// Load(Options{Flags: fs}) applies those given on the command line.
func AddFlags(fs *pflag.FlagSet) {
	str := func(key, usage string) { fs.String(FlagName(key), "", usage+" ("+key+")") }
	str("node_id", "this node's id")
	str("data_dir", "data directory")
	str("fsm", "registered state machine to run")
	str("raft.bind", "Raft transport listen address")
	str("raft.advertise", "Raft address peers dial")
	fs.Bool(FlagName("raft.bootstrap"), false, "form a new cluster of raft.peers on first start (raft.bootstrap)")
	fs.StringSlice(FlagName("raft.join"), nil, "HTTP addresses of members to join through (raft.join)")
	str("raft.cluster_id", "cluster name")
	str("raft.store", "log store: bolt, wal or memory")
	str("http.bind", "HTTP API listen address")
	str("log.level", "log level: trace, debug, info, warn, error, off")
	str("log.format", "log format: text or json")
}

// reader converts viper's loosely typed values, collecting every problem.
type reader struct {
	v    *viper.Viper
	errs []error
	bad  map[string]bool // keys whose value did not parse
}

func (r *reader) fail(key, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...)))
	if r.bad == nil {
		r.bad = map[string]bool{}
	}
	r.bad[key] = true
}

func (r *reader) config() *Config {
	c := &Config{
		NodeID:     r.str("node_id"),
		DataDir:    r.str("data_dir"),
		FSM:        r.str("fsm"),
		FSMOptions: r.strMap("fsm_options"),
		Raft: Raft{
			Bind:             r.str("raft.bind"),
			Advertise:        r.str("raft.advertise"),
			Bootstrap:        r.boolean("raft.bootstrap"),
			Peers:            r.peers("raft.peers"),
			Join:             r.list("raft.join"),
			ClusterID:        r.str("raft.cluster_id"),
			HeartbeatTimeout: r.duration("raft.heartbeat_timeout"),
			ElectionTimeout:  r.duration("raft.election_timeout"),
			Store:            r.str("raft.store"),
			Snapshot: Snapshot{
				Threshold:    r.uint("raft.snapshot.threshold"),
				Interval:     r.duration("raft.snapshot.interval"),
				Retain:       int(min(r.uint("raft.snapshot.retain"), math.MaxInt32)),
				TrailingLogs: r.uint("raft.snapshot.trailing_logs"),
			},
			TLS: TLS{
				CertFile: r.str("raft.tls.cert_file"),
				KeyFile:  r.str("raft.tls.key_file"),
				CAFile:   r.str("raft.tls.ca_file"),
			},
		},
		HTTP:    HTTP{Bind: r.str("http.bind")},
		Log:     Log{Level: strings.ToLower(r.str("log.level")), Format: strings.ToLower(r.str("log.format"))},
		Metrics: Metrics{Enabled: r.boolean("metrics.enabled")},
	}
	if c.DataDir == "" && c.NodeID != "" {
		c.DataDir = "data/" + c.NodeID
	}
	if c.Raft.Advertise == "" {
		c.Raft.Advertise = c.Raft.Bind
	}
	return c
}

func (r *reader) str(key string) string {
	switch x := r.v.Get(key).(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case int, int64, uint64, float64:
		return fmt.Sprint(x)
	default:
		r.fail(key, "want a string, have %T", x)
		return ""
	}
}

func (r *reader) boolean(key string) bool {
	switch x := r.v.Get(key).(type) {
	case bool:
		return x
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			r.fail(key, "want true or false, have %q", x)
		}
		return b
	default:
		r.fail(key, "want true or false, have %v", x)
		return false
	}
}

func (r *reader) duration(key string) time.Duration {
	switch x := r.v.Get(key).(type) {
	case time.Duration:
		return x
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			r.fail(key, "bad duration %q (write it like 100ms, 1s or 1m30s)", x)
		}
		return d
	case int, int64, float64:
		r.fail(key, "duration %v has no unit (write it like 100ms, 1s or 1m30s)", x)
		return 0
	default:
		r.fail(key, "want a duration like 100ms, have %v", x)
		return 0
	}
}

func (r *reader) uint(key string) uint64 {
	var n int64
	switch x := r.v.Get(key).(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			r.fail(key, "%d is too large", x)
			return 0
		}
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || x > math.MaxInt64 || x < math.MinInt64 {
			r.fail(key, "want a whole number, have %v", x)
			return 0
		}
		n = int64(x)
	case string:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64); err != nil {
			r.fail(key, "want a whole number, have %q", x)
			return 0
		}
	default:
		r.fail(key, "want a whole number, have %v", x)
		return 0
	}
	if n < 0 {
		r.fail(key, "must not be negative, have %d", n)
		return 0
	}
	return uint64(n)
}

// list accepts a YAML list of strings, or a comma-separated string (from
// the environment or a flag).
func (r *reader) list(key string) []string {
	var out []string
	switch x := r.v.Get(key).(type) {
	case nil:
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, x...)
	case []any:
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				r.fail(fmt.Sprintf("%s[%d]", key, i), "want a string, have %v", e)
				continue
			}
			out = append(out, strings.TrimSpace(s))
		}
	default:
		r.fail(key, "want a list, have %v", x)
	}
	return out
}

// peers accepts a YAML list of {id, address}, or "id=address,..." from
// the environment.
func (r *reader) peers(key string) []Peer {
	var out []Peer
	switch x := r.v.Get(key).(type) {
	case nil:
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			id, addr, ok := strings.Cut(s, "=")
			if !ok {
				r.fail(key, "want id=address pairs separated by commas, have %q", s)
				continue
			}
			out = append(out, Peer{ID: strings.TrimSpace(id), Address: strings.TrimSpace(addr)})
		}
	case []any:
		for i, e := range x {
			m, ok := toStringMap(e)
			if !ok {
				r.fail(fmt.Sprintf("%s[%d]", key, i), "want {id: ..., address: ...}, have %v", e)
				continue
			}
			id, _ := m["id"].(string)
			addr, _ := m["address"].(string)
			out = append(out, Peer{ID: strings.TrimSpace(id), Address: strings.TrimSpace(addr)})
		}
	default:
		r.fail(key, "want a list of {id, address}, have %v", x)
	}
	return out
}

func (r *reader) strMap(key string) map[string]any {
	switch x := r.v.Get(key).(type) {
	case nil:
		return map[string]any{}
	default:
		m, ok := toStringMap(x)
		if !ok {
			r.fail(key, "want a map, have %v", x)
			return map[string]any{}
		}
		return m
	}
}
