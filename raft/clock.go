package raft

import "time"

// Clock is the runtime's only source of time: the event loop's ticker, the
// snapshot policy's ticker and the wall clock a leader stamps on entries.
// Tests inject one to move time themselves.
type Clock interface {
	// Now returns the current wall-clock time.
	Now() time.Time
	// NewTicker returns a ticker that fires every d (d > 0).
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks on C until stopped.
type Ticker interface {
	// C returns the channel the ticks arrive on.
	C() <-chan time.Time
	// Stop ends the ticks; it does not close C.
	Stop()
}

// SystemClock is the Clock of the operating system. It is the default.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return sysTicker{time.NewTicker(d)} }

type sysTicker struct{ t *time.Ticker }

func (s sysTicker) C() <-chan time.Time { return s.t.C }
func (s sysTicker) Stop()               { s.t.Stop() }
