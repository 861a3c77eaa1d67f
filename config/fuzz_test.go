package config

import (
	"testing"
)

// FuzzLoad: whatever an operator writes, Load answers with a Config or an
// error, never a panic; and an accepted Config passes Validate.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("node_id: n1\n"))
	f.Add([]byte("node_id: n1\nraft:\n  bootstrap: true\n  peers: [{id: n1, address: 127.0.0.1:7001}]\n"))
	f.Add([]byte("raft: {snapshot: {retain: x}, peers: [{id: [1]}], join: [{a: 1}]}\nfsm_options: 5\n"))
	f.Add([]byte("node_id: ~\nlog: [1, 2]\nmetrics: {enabled: {a: b}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load(Options{Path: "fuzz.yaml", NoEnv: true}, data)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Load accepted what Validate refuses: %v", verr)
			}
		}
	})
}
