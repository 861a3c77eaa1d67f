package cli

import (
	"encoding/base64"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/client"
)

func newFSMCmd() *cobra.Command {
	var f clientFlags
	var requestID string
	var binary bool
	cmd := &cobra.Command{
		Use:   "fsm",
		Short: "Talk to a cluster running your own FSM: apply a command, ask a query",
		Long: `fsm sends commands to a custom FSM (one registered with fsm.Register that has
no routes of its own) through POST /v1/fsm/apply, and queries to it through
GET /v1/fsm/query when it implements fsm.Querier. Results are the FSM's
values as JSON.`,
	}
	f.register(cmd, true)
	apply := &cobra.Command{
		Use:   "apply COMMAND",
		Short: "Apply COMMAND (the FSM's own format) and print the FSM's result",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			defer c.Close()
			req := client.FSMApplyRequest{RequestID: requestID}
			if binary {
				if _, err := base64.StdEncoding.DecodeString(args[0]); err != nil {
					return usageError{fmt.Errorf("--base64: COMMAND is not standard base64: %w", err)}
				}
				req.CommandBase64 = args[0]
			} else {
				req.Command = args[0]
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			r, err := c.ApplyFSM(ctx, req)
			if err != nil {
				return err
			}
			return f.output(cmd, r, func(w io.Writer) {
				fmt.Fprintf(w, "ok: committed at index %d\n%s\n", r.Index, r.Result)
			})
		},
	}
	apply.Flags().StringVar(&requestID, "request-id", "", "make the command exactly-once (the FSM must be wrapped in fsm/session); retry with the same id")
	apply.Flags().BoolVar(&binary, "base64", false, "COMMAND is binary, given in standard base64")
	cmd.AddCommand(apply, &cobra.Command{
		Use:   "query QUERY",
		Short: "Ask the FSM QUERY (linearizable unless --stale or --bounded) and print its answer",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			r, err := c.QueryFSM(ctx, args[0], f.consistency())
			if err != nil {
				return err
			}
			return f.output(cmd, r, func(w io.Writer) { fmt.Fprintf(w, "%s\n", r.Result) })
		},
	})
	return cmd
}
