package core

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is wrapped by every error NewRawNode returns for a bad
// Config.
var ErrInvalidConfig = errors.New("raft: invalid core config")

// Defaults for zero Config fields.
const (
	defaultElectionTick             = 10
	defaultHeartbeatTick            = 1
	defaultMaxSizePerMsg            = 1 << 20
	defaultMaxInflightMsgs          = 256
	defaultMaxCommittedSizePerReady = 64 << 20
)

// withDefaults returns c with zero fields set to their defaults, or an
// error naming every field that is wrong.
func (c Config) withDefaults() (Config, error) {
	if c.ElectionTick == 0 {
		c.ElectionTick = defaultElectionTick
	}
	if c.HeartbeatTick == 0 {
		c.HeartbeatTick = defaultHeartbeatTick
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = defaultMaxSizePerMsg
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = defaultMaxInflightMsgs
	}
	if c.MaxCommittedSizePerReady == 0 {
		c.MaxCommittedSizePerReady = defaultMaxCommittedSizePerReady
	}
	if c.DiskStallTicks == 0 {
		c.DiskStallTicks = c.ElectionTick
	}
	if c.Logger == nil {
		c.Logger = discardLogger{}
	}
	var errs []error
	if c.ID == "" {
		errs = append(errs, fmt.Errorf("%w: ID is empty", ErrInvalidConfig))
	}
	if c.Storage == nil {
		errs = append(errs, fmt.Errorf("%w: Storage is nil", ErrInvalidConfig))
	}
	if c.HeartbeatTick < 0 || c.ElectionTick <= c.HeartbeatTick {
		errs = append(errs, fmt.Errorf("%w: ElectionTick (%d) must be greater than HeartbeatTick (%d) > 0",
			ErrInvalidConfig, c.ElectionTick, c.HeartbeatTick))
	}
	if c.MaxInflightMsgs < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxInflightMsgs is negative", ErrInvalidConfig))
	}
	if c.DiskStallTicks < 0 {
		errs = append(errs, fmt.Errorf("%w: DiskStallTicks is negative", ErrInvalidConfig))
	}
	if c.ReadOnlyOption == ReadOnlyLeaseBased && !c.CheckQuorum {
		errs = append(errs, fmt.Errorf("%w: ReadOnlyLeaseBased requires CheckQuorum", ErrInvalidConfig))
	}
	if c.ReadOnlyOption > ReadOnlyLeaseBased {
		errs = append(errs, fmt.Errorf("%w: unknown ReadOnlyOption %d", ErrInvalidConfig, c.ReadOnlyOption))
	}
	return c, errors.Join(errs...)
}

type discardLogger struct{}

func (discardLogger) Debug(string, ...any) {}
func (discardLogger) Info(string, ...any)  {}
func (discardLogger) Warn(string, ...any)  {}
func (discardLogger) Error(string, ...any) {}
