package wire

import (
	"errors"
	"fmt"
	"sort"
)

// Role is a server's part in the cluster.
type Role uint8

const (
	// Voter servers vote in elections and count towards commit quorums.
	Voter Role = iota
	// Learner servers receive the log but neither vote nor count towards
	// any quorum; they are promoted once caught up.
	Learner
)

// String returns "voter" or "learner".
func (r Role) String() string {
	if r == Learner {
		return "learner"
	}
	return "voter"
}

// Server is one member of a Configuration.
type Server struct {
	ID      NodeID `codec:"id"`
	Address string `codec:"a"`
	Role    Role   `codec:"r"`
}

// Configuration is the membership of a cluster: who votes and who learns.
// Membership changes one server at a time (Raft thesis §4.1), so any two
// consecutive configurations' voter majorities overlap.
type Configuration struct {
	Servers []Server `codec:"s"`
}

// Clone returns a deep copy of c.
func (c Configuration) Clone() Configuration {
	return Configuration{Servers: append([]Server(nil), c.Servers...)}
}

// Voters returns the IDs of the voting servers, sorted.
func (c Configuration) Voters() []NodeID { return c.ids(Voter) }

// Learners returns the IDs of the learners, sorted.
func (c Configuration) Learners() []NodeID { return c.ids(Learner) }

func (c Configuration) ids(r Role) []NodeID {
	var out []NodeID
	for _, s := range c.Servers {
		if s.Role == r {
			out = append(out, s.ID)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Server returns the member with the given id, if any.
func (c Configuration) Server(id NodeID) (Server, bool) {
	for _, s := range c.Servers {
		if s.ID == id {
			return s, true
		}
	}
	return Server{}, false
}

// IsVoter reports whether id is a voting member of c.
func (c Configuration) IsVoter(id NodeID) bool {
	s, ok := c.Server(id)
	return ok && s.Role == Voter
}

// ErrInvalidConfiguration is wrapped by every error Validate returns.
var ErrInvalidConfiguration = errors.New("invalid configuration")

// Validate reports every problem with c at once: no voters, empty or
// duplicate IDs, duplicate addresses.
func (c Configuration) Validate() error {
	var errs []error
	ids := map[NodeID]bool{}
	addrs := map[string]NodeID{}
	voters := 0
	for i, s := range c.Servers {
		if s.ID == None {
			errs = append(errs, fmt.Errorf("%w: server %d has an empty id", ErrInvalidConfiguration, i))
			continue
		}
		if ids[s.ID] {
			errs = append(errs, fmt.Errorf("%w: server id %q appears more than once", ErrInvalidConfiguration, s.ID))
		}
		ids[s.ID] = true
		if s.Address != "" {
			if other, ok := addrs[s.Address]; ok {
				errs = append(errs, fmt.Errorf("%w: servers %q and %q share address %q", ErrInvalidConfiguration, other, s.ID, s.Address))
			}
			addrs[s.Address] = s.ID
		}
		if s.Role == Voter {
			voters++
		} else if s.Role != Learner {
			errs = append(errs, fmt.Errorf("%w: server %q has unknown role %d", ErrInvalidConfiguration, s.ID, s.Role))
		}
	}
	if voters == 0 {
		errs = append(errs, fmt.Errorf("%w: no voters", ErrInvalidConfiguration))
	}
	return errors.Join(errs...)
}
