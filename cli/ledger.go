package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/client"
)

func newLedgerCmd() *cobra.Command {
	var f clientFlags
	var requestID string
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Talk to a ledger cluster: deposit, withdraw, transfer, balance, accounts, audit",
		Long: `Amounts are integers in minor units (cents). Writes carry a request id
(random unless --request-id is given): the same id retried is applied once.`,
	}
	f.register(cmd, true)
	cmd.PersistentFlags().StringVar(&requestID, "request-id", "", "writes: the request id (retry a write with the same id to apply it once)")

	printWrite := func(cmd *cobra.Command, r client.WriteResponse) error {
		return f.output(cmd, r, func(w io.Writer) {
			fmt.Fprintf(w, "ok: committed at index %d (request %s)\n", r.Index, r.RequestID)
			for _, id := range sortedKeys(r.Balances) {
				fmt.Fprintf(w, "  %s: %d\n", id, r.Balances[id])
			}
		})
	}
	// write runs a ledger write whose AMOUNT is its last argument and
	// prints the committed answer.
	write := func(send func(ctx context.Context, c *client.Client, args []string, amount int64) (client.WriteResponse, error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[len(args)-1])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			r, err := send(ctx, c, args, amount)
			if err != nil {
				return err
			}
			return printWrite(cmd, r)
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "deposit ACCOUNT AMOUNT",
		Short: "Credit AMOUNT to ACCOUNT (opening it if new)",
		Args:  exactArgs(2),
		RunE: write(func(ctx context.Context, c *client.Client, args []string, amount int64) (client.WriteResponse, error) {
			return c.Deposit(ctx, client.DepositRequest{RequestID: requestID, Account: args[0], Amount: amount})
		}),
	}, &cobra.Command{
		Use:   "withdraw ACCOUNT AMOUNT",
		Short: "Debit AMOUNT from ACCOUNT (never below zero)",
		Args:  exactArgs(2),
		RunE: write(func(ctx context.Context, c *client.Client, args []string, amount int64) (client.WriteResponse, error) {
			return c.Withdraw(ctx, client.WithdrawRequest{RequestID: requestID, Account: args[0], Amount: amount})
		}),
	}, &cobra.Command{
		Use:   "transfer FROM TO AMOUNT",
		Short: "Move AMOUNT from FROM to TO atomically",
		Args:  exactArgs(3),
		RunE: write(func(ctx context.Context, c *client.Client, args []string, amount int64) (client.WriteResponse, error) {
			return c.Transfer(ctx, client.TransferRequest{RequestID: requestID, From: args[0], To: args[1], Amount: amount})
		}),
	}, &cobra.Command{
		Use:   "balance ACCOUNT",
		Short: "Show one account's balance",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			a, err := c.Balance(ctx, args[0], f.consistency())
			if err != nil {
				return err
			}
			return f.output(cmd, a, func(w io.Writer) { fmt.Fprintf(w, "%s: %d\n", a.ID, a.Balance) })
		},
	}, newAccountsCmd(&f), &cobra.Command{
		Use:   "audit",
		Short: "Reconcile the ledger: accounts, total, deposited, withdrawn",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			a, err := c.Audit(ctx, f.consistency())
			if err != nil {
				return err
			}
			return f.output(cmd, a, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "accounts\t%d\n", a.Accounts)
				fmt.Fprintf(tw, "total\t%d\n", a.Total)
				fmt.Fprintf(tw, "deposited\t%d\n", a.Deposited)
				fmt.Fprintf(tw, "withdrawn\t%d\n", a.Withdrawn)
				fmt.Fprintf(tw, "reconciles\t%v\n", a.Reconciles)
				fmt.Fprintf(tw, "applied index\t%d\n", a.AppliedIndex)
				tw.Flush()
			})
		},
	})
	return cmd
}

func newAccountsCmd(f *clientFlags) *cobra.Command {
	var after string
	var limit int
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "List accounts in id order, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			page, err := c.Accounts(ctx, after, limit, f.consistency())
			if err != nil {
				return err
			}
			return f.output(cmd, page, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ACCOUNT\tBALANCE")
				for _, a := range page.Accounts {
					fmt.Fprintf(tw, "%s\t%d\n", a.ID, a.Balance)
				}
				tw.Flush()
				if page.Next != "" {
					fmt.Fprintf(w, "(more: --after %s)\n", page.Next)
				}
			})
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "list accounts with ids after this one")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many accounts")
	return cmd
}

func parseAmount(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, usageError{fmt.Errorf("amount %q is not an integer number of minor units", s)}
	}
	return v, nil
}

// exactArgs is cobra.ExactArgs whose error counts as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w (usage: %s)", err, cmd.UseLine())}
		}
		return nil
	}
}
