package config

import (
	"fmt"
	"sort"
	"strings"
)

// leafKeys lists every key a file may set, dotted.
var leafKeys = []string{
	"node_id", "data_dir", "fsm", "fsm_options",
	"raft.bind", "raft.advertise", "raft.bootstrap", "raft.peers", "raft.join",
	"raft.cluster_id", "raft.heartbeat_timeout", "raft.election_timeout", "raft.store",
	"raft.snapshot.threshold", "raft.snapshot.interval", "raft.snapshot.retain", "raft.snapshot.trailing_logs",
	"raft.tls.cert_file", "raft.tls.key_file", "raft.tls.ca_file",
	"http.bind", "log.level", "log.format", "metrics.enabled",
}

// Keys returns every configuration key, dotted, sorted.
func Keys() []string {
	out := append([]string(nil), leafKeys...)
	sort.Strings(out)
	return out
}

var (
	isLeaf    = map[string]bool{}
	isSection = map[string]bool{}
)

func init() {
	for _, k := range leafKeys {
		isLeaf[k] = true
		for i := strings.IndexByte(k, '.'); i >= 0; i = nextDot(k, i) {
			isSection[k[:i]] = true
		}
	}
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// peerKeys are the keys of one raft.peers entry.
var peerKeys = []string{"id", "address"}

// unknownKeys walks the settings read from a file and reports every key
// that is not a configuration key, with the closest valid one.
func unknownKeys(settings map[string]any) []error {
	var errs []error
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			switch {
			case isLeaf[key]:
				if key == "raft.peers" {
					errs = append(errs, unknownPeerKeys(m[k])...)
				}
			case isSection[key]:
				if sub, ok := m[k].(map[string]any); ok {
					walk(key, sub)
				} else {
					errs = append(errs, fmt.Errorf("%w: %q is a section, not a value", ErrInvalid, key))
				}
			default:
				errs = append(errs, fmt.Errorf("%w %q (did you mean %q?)", ErrUnknownKey, key, closest(key, leafKeys)))
			}
		}
	}
	walk("", settings)
	return errs
}

func unknownPeerKeys(v any) []error {
	list, ok := v.([]any)
	if !ok {
		return nil // the type is reported by the getter
	}
	var errs []error
	for i, p := range list {
		m, ok := toStringMap(p)
		if !ok {
			continue
		}
		for k := range m {
			if k != "id" && k != "address" {
				errs = append(errs, fmt.Errorf("%w \"raft.peers[%d].%s\" (did you mean %q?)", ErrUnknownKey, i, k, closest(k, peerKeys)))
			}
		}
	}
	return errs
}

// closest returns the candidate nearest to key: one with the same last
// component if there is one (a key in the wrong section), else the one at
// the smallest edit distance.
func closest(key string, candidates []string) string {
	leaf := key[strings.LastIndexByte(key, '.')+1:]
	for _, c := range candidates {
		if c != key && c[strings.LastIndexByte(c, '.')+1:] == leaf {
			return c
		}
	}
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(key, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// toStringMap accepts the map shapes YAML decoders produce.
func toStringMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[strings.ToLower(fmt.Sprint(k))] = v
		}
		return out, true
	}
	return nil, false
}
