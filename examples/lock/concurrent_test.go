package lock

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestShowDuringApply: Show from other goroutines while commands apply
// never sees a lease that the log time has already ended. Run under -race.
func TestShowDuringApply(t *testing.T) {
	d := newDriver(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	bad := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			d.l.mu.RLock() // Show and Now together, as one view
			l := d.l.st.lease("x", d.l.st.locks["x"])
			now := unixTime(d.l.st.now)
			d.l.mu.RUnlock()
			if l.Holder != "" && !l.Expiry.After(now) {
				bad <- fmt.Sprintf("lease %+v shown at %v", l, now)
				return
			}
			if _, err := d.l.Show("x"); err != nil {
				bad <- err.Error()
				return
			}
		}
	}()
	for i := 0; i < 3000; i++ {
		d.do(time.Duration(i)*100*time.Millisecond, Acquire{Name: "x", Owner: fmt.Sprint("o", i%3), TTL: 250 * time.Millisecond})
	}
	close(stop)
	wg.Wait()
	select {
	case b := <-bad:
		t.Fatal(b)
	default:
	}
}
