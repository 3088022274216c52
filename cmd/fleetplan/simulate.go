package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
)

func init() { fleetSubcommands = append(fleetSubcommands, newSimulateCmd) }

func newSimulateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Break a local fleet the way real fleets break (geo-failover, restore, delete)",
		Long: `simulate changes a local fleet's databases behind the shard maps' back, as a
geo-failover, a point-in-time restore or a deleted database does, so that
recovery (fleetplan doctor, ShardMapRecovery plans) can be rehearsed on real
inconsistencies. The global shard map is not told.

Every run (apply, resume) keeps, in DIR.restore-points beside the fleet's
folder (the last 10 runs), a copy of the shard map manager database and of
each database it uses, taken before its first change; restore puts one of
them back.`,
		Example: `  fleetplan fleet simulate geo-failover --target local --server sql-1 --to sql-2
  fleetplan fleet simulate restore --target local --database customers_0 --to-point RUN_ID
  fleetplan fleet simulate delete --target local --database sql-1/customers_1`,
	}
	cmd.AddCommand(newSimulateFailoverCmd(a), newSimulateRestoreCmd(a), newSimulateDeleteCmd(a))
	groupArgs(cmd)
	return cmd
}

// openLocal opens the fleet of --fleet/--target, which must be local.
func openLocal(ctx context.Context, a *app, ff *fleetFlags) (*local.Target, error) {
	t, err := ff.open(ctx, a)
	if err != nil {
		return nil, err
	}
	lt, ok := t.(*local.Target)
	if !ok {
		t.Close()
		return nil, usageErr(fmt.Sprintf("target %s uses the %s driver; simulate breaks local fleets only", t.Name(), t.Driver()),
			"rehearse on a local fleet (fleetplan fleet init --demo DIR)")
	}
	return lt, nil
}

func newSimulateFailoverCmd(a *app) *cobra.Command {
	var ff fleetFlags
	var from, to string
	cmd := &cobra.Command{
		Use:   "geo-failover",
		Short: "Move every database of a server to another server, as a failover group does",
		Long: `geo-failover moves every database of --server to --to under the same name,
as a failover group does when its secondary becomes the primary: the old
server no longer has them. The shard map manager's location follows when it
was on --server (the application's connection string follows the failover
group). The global shard map still names the old server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return usageErr("--server and --to are required", helpHint(cmd))
			}
			ctx := cmd.Context()
			t, err := openLocal(ctx, a, &ff)
			if err != nil {
				return err
			}
			defer t.Close()
			moved, err := t.SimulateGeoFailover(ctx, from, to)
			for _, l := range moved {
				a.view.Simulated("moved", l.Database+" from "+from+" to "+l.String())
			}
			return err
		},
	}
	ff.add(cmd)
	cmd.Flags().StringVar(&from, "server", "", "the server that fails")
	cmd.Flags().StringVar(&to, "to", "", "the server whose databases become the primaries")
	return cmd
}

func newSimulateRestoreCmd(a *app) *cobra.Command {
	var ff fleetFlags
	var name, point string
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Put an older copy of a database (a shard, or the shard map manager) in place",
		Long: `restore replaces --database with its copy from a restore point, as a
point-in-time restore renamed to the original name does. --to-point is a run
id (the copy that run kept, as the database was at the run's start) or a time
in RFC 3339 (the newest copy among the runs started at or before it). A run
that never used the database kept no copy of it: the database is as it was
then, and restore to that run says so and names the earlier runs that have
one. A deleted database comes back.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" || point == "" {
				return usageErr("--database and --to-point are required", helpHint(cmd))
			}
			ctx := cmd.Context()
			t, err := openLocal(ctx, a, &ff)
			if err != nil {
				return err
			}
			defer t.Close()
			loc, err := restoreLocation(ctx, t, name)
			if err != nil {
				return err
			}
			rp, err := t.SimulateRestore(ctx, loc, point)
			if err != nil {
				return err
			}
			a.view.Simulated("restored", fmt.Sprintf("%s to its copy from the start of run %s (%s)", loc, rp.Run, rp.Taken.Format("2006-01-02T15:04:05Z07:00")))
			return nil
		},
	}
	ff.add(cmd)
	cmd.Flags().StringVar(&name, "database", "", "DATABASE or SERVER/DATABASE")
	cmd.Flags().StringVar(&point, "to-point", "", "a run id, or an RFC 3339 time")
	return cmd
}

// restoreLocation finds the database to restore, which may be deleted
// (then SERVER/DATABASE names it as it was).
func restoreLocation(ctx context.Context, t *local.Target, name string) (fleet.Location, error) {
	loc, err := t.FindDatabase(ctx, name)
	if err == nil {
		return loc, nil
	}
	if l, perr := parseLocation(name); perr == nil {
		return l, nil
	}
	return loc, err
}

func newSimulateDeleteCmd(a *app) *cobra.Command {
	var ff fleetFlags
	var name string
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a database behind the shard maps' back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return usageErr("--database is required", helpHint(cmd))
			}
			ctx := cmd.Context()
			t, err := openLocal(ctx, a, &ff)
			if err != nil {
				return err
			}
			defer t.Close()
			loc, err := t.FindDatabase(ctx, name)
			if err != nil {
				return err
			}
			if err := t.SimulateDelete(ctx, loc); err != nil {
				return err
			}
			a.view.Simulated("deleted", loc.String())
			return nil
		},
	}
	ff.add(cmd)
	cmd.Flags().StringVar(&name, "database", "", "DATABASE or SERVER/DATABASE")
	return cmd
}
