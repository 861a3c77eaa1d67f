package fsm

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Factory builds a fresh, empty FSM. The daemon calls it once per node
// start; options come from the node's configuration file (the keys under
// fsm_options) and may be nil.
type Factory func(options map[string]any) (FSM, error)

// ErrUnknownFSM is returned by Lookup for a name nobody registered.
var ErrUnknownFSM = errors.New("unknown fsm")

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes an FSM available by name, usually from an init function,
// as database/sql drivers do. It panics if name is empty, factory is nil or
// the name is already taken: these are programming errors at start-up.
func Register(name string, factory Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || factory == nil {
		panic("fsm: Register needs a name and a factory")
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("fsm: Register called twice for %q", name))
	}
	registry[name] = factory
}

// Lookup returns the factory registered under name. An unknown name yields
// an error wrapping ErrUnknownFSM that lists the registered names.
func Lookup(name string) (Factory, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	if f, ok := registry[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownFSM, name, namesLocked())
}

// Names returns the registered names, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
