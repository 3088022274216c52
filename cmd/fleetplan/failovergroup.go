package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/fleet"
)

func init() { fleetSubcommands = append(fleetSubcommands, newFailoverGroupCmd) }

func newFailoverGroupCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "failover-group",
		Short: "List failover groups, or make one in a local fleet",
		Long: `failover-group lists the failover groups of a target (local or azure) and makes
them in a local fleet, so a planned region switch (the database.failover-group
step) can be rehearsed there. A group's databases must already be
geo-replicated, under the same names, from the primary server to the partner
(database.create-secondary).`,
		Example: `  fleetplan fleet failover-group list --target prod-azure
  fleetplan fleet failover-group create fog-contoso --target local --primary contoso-1 --partner contoso-2 --databases contoso`,
	}
	cmd.AddCommand(newFailoverGroupListCmd(a), newFailoverGroupCreateCmd(a))
	groupArgs(cmd)
	return cmd
}

func newFailoverGroupListCmd(a *app) *cobra.Command {
	var ff fleetFlags
	var server, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the failover groups: primary, secondary, replication state, databases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := ff.open(ctx, a)
			if err != nil {
				return err
			}
			defer t.Close()
			m, ok := t.(fleet.FailoverGroupManager)
			if !ok {
				return usageErr(fmt.Sprintf("target %s uses the %s driver, which has no failover groups", t.Name(), t.Driver()),
					"failover groups are served by the azure and local drivers")
			}
			groups, err := m.FailoverGroups(ctx, server)
			if err != nil {
				return err
			}
			return a.view.FailoverGroups(format, groups)
		},
	}
	ff.add(cmd)
	cmd.Flags().StringVar(&server, "member", "", "only the groups this server is in")
	addFormatFlag(cmd, &format, formatText, formatJSON)
	return cmd
}

func newFailoverGroupCreateCmd(a *app) *cobra.Command {
	var ff fleetFlags
	var primary, partner, policy string
	var databases []string
	var grace int
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Group geo-replicated databases of a local fleet's server into a failover group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if primary == "" || partner == "" || len(databases) == 0 {
				return usageErr("--primary, --partner and --databases are required", helpHint(cmd))
			}
			ctx := cmd.Context()
			t, err := openLocal(ctx, a, &ff)
			if err != nil {
				return err
			}
			defer t.Close()
			if err := t.CreateFailoverGroup(ctx, args[0], primary, partner, databases, policy, grace); err != nil {
				return err
			}
			g, err := t.FailoverGroup(ctx, primary, args[0])
			if err != nil {
				return err
			}
			return a.view.FailoverGroups("text", []fleet.FailoverGroup{g})
		},
	}
	ff.add(cmd)
	cmd.Flags().StringVar(&primary, "primary", "", "the server whose databases take writes")
	cmd.Flags().StringVar(&partner, "partner", "", "the server of their geo-secondaries")
	cmd.Flags().StringSliceVar(&databases, "databases", nil, "the group's databases, the same names on both servers (comma-separated, or repeat the flag)")
	cmd.Flags().StringVar(&policy, "policy", fleet.FailoverManual, "read-write failover policy: manual or automatic")
	cmd.Flags().IntVar(&grace, "grace-minutes", 0, "for an automatic policy, the minutes before a failover with data loss")
	return cmd
}
