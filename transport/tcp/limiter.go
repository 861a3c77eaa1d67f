package tcp

import (
	"context"
	"sync"
	"time"
)

// limiter paces bytes to a rate shared by every caller: each caller
// reserves the next slot of the schedule and waits for it. Idle time is
// not saved up, so a burst after a pause is at most one reservation.
type limiter struct {
	rate int64 // bytes per second; <= 0 means unlimited

	mu   sync.Mutex
	next time.Time
}

func newLimiter(rate int64) *limiter { return &limiter{rate: rate} }

// wait blocks until n more bytes may be sent, or ctx ends.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil || l.rate <= 0 || n <= 0 {
		return nil
	}
	d := time.Until(l.reserve(time.Now(), n))
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reserve books n bytes and returns when they may be sent, given the time
// now.
func (l *limiter) reserve(now time.Time, n int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(time.Duration(int64(n) * int64(time.Second) / l.rate))
	return at
}
