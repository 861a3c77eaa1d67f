package ledger

import (
	"fmt"
	"sync"
	"testing"
)

// TestReadsDuringApply: the daemon reads from HTTP goroutines while the
// apply goroutine writes. Every read sees a consistent state: the audit
// reconciles and no balance is negative. Run under -race.
func TestReadsDuringApply(t *testing.T) {
	l := New(Options{})
	d := newDriver(t, l)
	for i := 0; i < 50; i++ {
		d.ok(fmt.Sprint("open-", i), Deposit{Account: fmt.Sprint("acct-", i), Amount: 100})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	problems := make(chan string, 3)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if a := l.Audit(); !a.Reconciles() {
					problems <- fmt.Sprintf("audit %+v", a)
					return
				}
				for _, acc := range l.Accounts("", MaxPageSize) {
					if acc.Balance < 0 {
						problems <- fmt.Sprintf("negative %+v", acc)
						return
					}
				}
				if _, err := l.Balance("acct-7"); err != nil {
					problems <- err.Error()
					return
				}
			}
		}()
	}
	for i := 0; i < 3000; i++ {
		d.do(fmt.Sprint("t-", i), Transfer{From: fmt.Sprint("acct-", i%50), To: fmt.Sprint("acct-", (i*7+1)%50), Amount: int64(1 + i%30)})
		if i%3 == 0 {
			d.do(fmt.Sprint("w-", i), Withdraw{Account: fmt.Sprint("acct-", i%50), Amount: 1})
		}
	}
	close(stop)
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Fatal(p)
	}
	if a := l.Audit(); a.Withdrawn == 0 || !a.Reconciles() {
		t.Fatalf("final audit %+v", a)
	}
}
