package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/client"
)

func newClusterCmd() *cobra.Command {
	var f clientFlags
	var learner bool
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect and change the cluster: status, members, add, remove, transfer-leadership, snapshot",
	}
	f.register(cmd, false)

	printMembers := func(cmd *cobra.Command, m client.MembersResponse) error {
		return f.output(cmd, m, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tADDRESS\tROLE\tLEADER")
			for _, s := range m.Members {
				lead := ""
				if s.ID == m.LeaderID {
					lead = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Address, s.Role, lead)
			}
			tw.Flush()
		})
	}
	withClient := func(fn func(cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return fn(cmd, c, args)
		}
	}
	add := &cobra.Command{
		Use:   "add ID RAFT-ADDRESS",
		Short: "Add a server (a voter, or a learner with --learner)",
		Args:  exactArgs(2),
		RunE: withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			role := "voter"
			if learner {
				role = "learner"
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			m, err := c.AddMember(ctx, client.AddMemberRequest{ID: args[0], Address: args[1], Role: role})
			if err != nil {
				return err
			}
			return printMembers(cmd, m)
		}),
	}
	add.Flags().BoolVar(&learner, "learner", false, "add the server as a non-voting learner")
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the reached node's view: role, term, leader, indexes, members",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			s, err := c.Status(ctx)
			if err != nil {
				return err
			}
			return f.output(cmd, s, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "node\t%s (%s)\n", s.ID, s.State)
				fmt.Fprintf(tw, "term\t%d\n", s.Term)
				fmt.Fprintf(tw, "leader\t%s\n", orNone(s.LeaderID))
				fmt.Fprintf(tw, "commit / applied / last\t%d / %d / %d\n", s.CommitIndex, s.AppliedIndex, s.LastIndex)
				fmt.Fprintf(tw, "fsm\t%s\n", s.FSM)
				fmt.Fprintf(tw, "members\t%d\n", len(s.Members))
				if len(s.AwaitingFounders) > 0 {
					fmt.Fprintf(tw, "awaiting founders\t%s\n", strings.Join(s.AwaitingFounders, ", "))
				}
				tw.Flush()
			})
		}),
	}, &cobra.Command{
		Use:   "members",
		Short: "List the servers of the configuration",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			m, err := c.Members(ctx)
			if err != nil {
				return err
			}
			return printMembers(cmd, m)
		}),
	}, add, &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a server from the configuration",
		Args:  exactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			m, err := c.RemoveMember(ctx, args[0])
			if err != nil {
				return err
			}
			return printMembers(cmd, m)
		}),
	}, &cobra.Command{
		Use:   "transfer-leadership [ID]",
		Short: "Hand leadership to ID (or to the most up-to-date other voter)",
		Args:  cobra.MaximumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			to := ""
			if len(args) == 1 {
				to = args[0]
			}
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			r, err := c.TransferLeadership(ctx, to)
			if err != nil {
				return err
			}
			return f.output(cmd, r, func(w io.Writer) { fmt.Fprintf(w, "leader is now %s\n", r.LeaderID) })
		}),
	}, &cobra.Command{
		Use:   "snapshot",
		Short: "Make the reached node snapshot its state machine now",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			ctx, cancel := f.withTimeout(cmd)
			defer cancel()
			r, err := c.Snapshot(ctx)
			if err != nil {
				return err
			}
			return f.output(cmd, r, func(w io.Writer) { fmt.Fprintf(w, "snapshot at index %d, term %d\n", r.Index, r.Term) })
		}),
	})
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
