package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/client"
)

func newLockCmd() *cobra.Command {
	var f clientFlags
	var owner string
	var token uint64
	var ttl, wait time.Duration
	var requestID string
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Talk to a lock-service cluster: acquire, renew, release, show",
		Long: `Locks are leases with fencing tokens: every acquisition gets a token larger
than any before it, to pass along to the resource the lock protects.`,
	}
	f.register(cmd, true)
	cmd.PersistentFlags().StringVar(&owner, "owner", "", "the lock owner's id (acquire, renew, release)")
	cmd.PersistentFlags().Uint64Var(&token, "token", 0, "the fencing token of the holding (renew, release)")
	cmd.PersistentFlags().DurationVar(&ttl, "ttl", 30*time.Second, "lease length (acquire, renew)")
	cmd.PersistentFlags().DurationVar(&wait, "wait", 0, "acquire: queue for the lock up to this long if it is held")
	cmd.PersistentFlags().StringVar(&requestID, "request-id", "", "writes: make the write exactly-once (retry it with the same id)")

	printLock := func(cmd *cobra.Command, l client.Lock) error {
		return f.output(cmd, l, func(w io.Writer) { fmt.Fprintln(w, describeLock(l)) })
	}
	needOwner := func() error {
		if owner == "" {
			return usageError{fmt.Errorf("--owner is required")}
		}
		return nil
	}
	lockCall := func(call func(cmd *cobra.Command, c *client.Client, name string) (client.Lock, error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			l, err := call(cmd, c, args[0])
			if err != nil {
				return err
			}
			return printLock(cmd, l)
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "acquire NAME",
		Short: "Take the lock for --owner for --ttl",
		Args:  exactArgs(1),
		RunE: lockCall(func(cmd *cobra.Command, c *client.Client, name string) (client.Lock, error) {
			if err := needOwner(); err != nil {
				return client.Lock{}, err
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			return c.AcquireLock(ctx, name, client.LockAcquireRequest{RequestID: requestID, Owner: owner, TTLMillis: ttl.Milliseconds(), WaitMillis: wait.Milliseconds()})
		}),
	}, &cobra.Command{
		Use:   "renew NAME",
		Short: "Extend the holding of --owner with --token by --ttl",
		Args:  exactArgs(1),
		RunE: lockCall(func(cmd *cobra.Command, c *client.Client, name string) (client.Lock, error) {
			if err := needOwner(); err != nil {
				return client.Lock{}, err
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			return c.RenewLock(ctx, name, client.LockRenewRequest{RequestID: requestID, Owner: owner, Token: token, TTLMillis: ttl.Milliseconds()})
		}),
	}, &cobra.Command{
		Use:   "release NAME",
		Short: "Give the lock up (--owner and --token of the holding)",
		Args:  exactArgs(1),
		RunE: lockCall(func(cmd *cobra.Command, c *client.Client, name string) (client.Lock, error) {
			if err := needOwner(); err != nil {
				return client.Lock{}, err
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			return c.ReleaseLock(ctx, name, client.LockReleaseRequest{RequestID: requestID, Owner: owner, Token: token})
		}),
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show who holds the lock",
		Args:  exactArgs(1),
		RunE: lockCall(func(cmd *cobra.Command, c *client.Client, name string) (client.Lock, error) {
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			return c.ShowLock(ctx, name, f.consistency())
		}),
	})
	return cmd
}

func describeLock(l client.Lock) string {
	switch {
	case l.Queued:
		s := fmt.Sprintf("%s: queued at position %d behind %q", l.Name, l.Position, l.Holder)
		if l.WaitDeadline != nil {
			s += " until " + l.WaitDeadline.UTC().Format(time.RFC3339Nano)
		}
		return s
	case l.Holder == "":
		return fmt.Sprintf("%s: free (last token %d)", l.Name, l.Token)
	}
	s := fmt.Sprintf("%s: held by %q with token %d", l.Name, l.Holder, l.Token)
	if l.ExpiresAt != nil {
		s += " until " + l.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	if l.Waiters > 0 {
		s += fmt.Sprintf(" (%d waiting)", l.Waiters)
	}
	return s
}
