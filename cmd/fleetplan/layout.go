package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/fleet"
)

func init() { commands = append(commands, newLayoutCmd) }

func newLayoutCmd(a *app) *cobra.Command {
	var (
		ff      fleetFlags
		mapName string
		format  string
	)
	cmd := &cobra.Command{
		Use:   "layout",
		Short: "Show the live shard layout: shards, mappings, row counts, pending operations, GSM/LSM differences",
		Long: `layout observes the target and prints every shard map (or one, with
--shard-map): its shards with their row counts per table, its mappings with
status and lock owner, the table kinds, operations left pending in
OperationsLogGlobal, and differences between the global shard map and each
shard's local shard map. The fingerprint changes whenever any of that does.`,
		Example: `  fleetplan layout --target local
  fleetplan layout --target local --shard-map CustomerMap --format json
  fleetplan layout --fleet /tmp/fleet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := ff.openFor(ctx, a, fleet.OpenForDiagnosis)
			if err != nil {
				return err
			}
			defer t.Close()
			obs, ok := t.(fleet.Observer)
			if !ok {
				return &fleet.Error{Op: "layout", Target: t.Name(), Err: fmt.Errorf("the %s driver cannot observe shard maps", t.Driver())}
			}
			lay, err := obs.Observe(ctx, mapName)
			if err != nil {
				return err
			}
			return a.view.Layout(lay, format, recoveryCredentials(a, &ff))
		},
	}
	ff.add(cmd)
	addShardMapFlag(cmd, &mapName)
	addFormatFlag(cmd, &format, formatText, formatJSON)
	return cmd
}
