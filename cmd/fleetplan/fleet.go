package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
)

func init() { commands = append(commands, newFleetCmd) }

func newFleetCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Manage embedded local fleets (a directory of SQLite databases)",
		Example: `  fleetplan fleet init /tmp/fleet
  fleetplan fleet init --demo /tmp/fleet`,
	}
	cmd.AddCommand(newFleetInitCmd(a))
	for _, sub := range fleetSubcommands {
		cmd.AddCommand(sub(a))
	}
	groupArgs(cmd)
	return cmd
}

// fleetSubcommands are the fleet commands besides init, registered by their files.
var fleetSubcommands []func(a *app) *cobra.Command

func newFleetInitCmd(a *app) *cobra.Command {
	var (
		demo      bool
		customers int
		seed      int64
		force     bool
		manager   string
	)
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Create an empty local fleet, or the demo fleet, in DIR",
		Long: `init creates a local fleet: DIR/fleet.db (the catalog) and, for every database,
DIR/<server>/<database>.db, a plain SQLite file.

Without --demo the fleet is empty; its global shard map will live in the
--shard-map-manager database, created with the first shard map.

With --demo it is the demo fleet: server sql-1 with the shard map manager
database smm and the shards customers_0 and customers_1; the range shard map
CustomerMap (int64) with [0, 50000) -> customers_0 and [50000, +inf) ->
customers_1; in every shard the tables of examples/shards/schema.sql (regions,
a reference table with 8 rows; customers, sharded on id; orders, sharded on
customer_id, 3 per customer), holding customers 0 .. N-1 on the shard the map
routes them to. The data depends only on --seed.

A directory that already holds a fleet is refused unless --force; a
non-empty directory that is not a fleet is always refused.`,
		Example: `  fleetplan fleet init /tmp/fleet
  fleetplan fleet init --demo /tmp/fleet
  fleetplan fleet init --demo --customers 1000 --seed 7 --force /tmp/fleet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir := args[0]
			if !demo && (cmd.Flags().Changed(flagCustomers) || cmd.Flags().Changed(flagSeed)) {
				return usageErr("--customers and --seed only apply with --demo", "add --demo")
			}
			if demo && cmd.Flags().Changed(flagShardMapManager) {
				return usageErr("--shard-map-manager does not apply with --demo (the demo uses sql-1/smm)", "drop one of the flags")
			}
			if customers < 0 {
				return usageErr("--customers must be 0 or more", "")
			}
			if !demo {
				smm, err := parseLocation(manager)
				if err != nil {
					return err
				}
				t, err := local.Init(ctx, dir, local.InitOptions{ShardMapManager: smm, Force: force})
				if err != nil {
					return err
				}
				defer t.Close()
				a.view.EmptyFleet(t.Dir(), smm)
				return nil
			}
			t, err := local.CreateDemo(ctx, dir, local.DemoOptions{Customers: customers, Seed: seed, Force: force})
			if err != nil {
				return err
			}
			defer t.Close()
			lay, err := t.Observe(ctx, local.DemoShardMap)
			if err != nil {
				return err
			}
			a.view.DemoFleet(t.Dir(), lay)
			return nil
		},
	}
	cmd.Flags().BoolVar(&demo, flagDemo, false, "create the demo fleet instead of an empty one")
	cmd.Flags().IntVar(&customers, flagCustomers, local.DemoCustomers, "demo customers (ids 0 .. N-1)")
	cmd.Flags().Int64Var(&seed, flagSeed, 1, "seed of the demo data")
	cmd.Flags().BoolVar(&force, flagForce, false, "replace a fleet that already exists in DIR")
	cmd.Flags().StringVar(&manager, flagShardMapManager, local.DefaultShardMapManager.String(), "SERVER/DATABASE of the global shard map")
	return cmd
}

func parseLocation(s string) (fleet.Location, error) {
	server, db, ok := strings.Cut(s, "/")
	if !ok || server == "" || db == "" || strings.Contains(db, "/") {
		return fleet.Location{}, usageErr(fmt.Sprintf("%q is not SERVER/DATABASE", s), "for example sql-1/smm")
	}
	return fleet.Location{Server: server, Database: db}, nil
}
