package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

func init() { commands = append(commands, newRouteCmd) }

// databasePather is implemented by drivers whose databases are files.
type databasePather interface {
	DatabasePath(ctx context.Context, loc fleet.Location) (string, error)
}

func newRouteCmd(a *app) *cobra.Command {
	var (
		ff      fleetFlags
		mapName string
		format  string
		profile string
	)
	cmd := &cobra.Command{
		Use:   "route KEY | route --profile NAME",
		Short: "Show which shard and database file hold a sharding key",
		Long: `route looks KEY up in the global shard map, as data-dependent routing does, and
prints the shard (server and database) and, on a local fleet, the database
file. KEY is written as plans write keys of the map's key type (int64: 50000,
guid: 6ba7b810-..., binary: 0x0a0b, datetime: 2024-01-02T03:04:05Z); put a
negative key after -- (fleetplan route --target local -- -5).

The mapping found in the global shard map is checked against the local shard
map of the shard it names, as the library's routing does: when the shard's
database is missing, or its local shard map does not hold the mapping at the
same shard version, route refuses and says why (fleetplan layout lists the
differences).

Exit status: 0 routed; 3 the mapping is offline (routing refuses offline
shardlets, as the Elastic Database library does; a move may be running);
1 the key is not mapped, the shard maps differ, or another error.

With --profile NAME instead of a key, route tells which endpoint of that
traffic-manager profile serves, with its app slot and database.`,
		Example: `  fleetplan route 49999 --target local --shard-map CustomerMap
  fleetplan route 50000 --fleet /tmp/fleet --shard-map CustomerMap --format json
  fleetplan route --profile contoso --target local`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if profile != "" {
				return routeProfile(cmd.Context(), a, &ff, profile, format, args)
			}
			if len(args) != 1 {
				return usageErr("route needs a KEY (or --profile NAME)", "fleetplan route 50000, or fleetplan route --profile contoso")
			}
			ctx := cmd.Context()
			t, err := ff.open(ctx, a)
			if err != nil {
				return err
			}
			defer t.Close()
			store, ok := t.(fleet.ShardMapStore)
			if !ok {
				return &fleet.Error{Op: "route", Target: t.Name(), Err: fmt.Errorf("the %s driver has no shard maps", t.Driver())}
			}
			m, err := pickMap(ctx, store, mapName)
			if err != nil {
				return err
			}
			key, err := shardkey.EncodeText(m.KeyType, args[0])
			if err != nil {
				return &fleet.Error{Op: "route", Target: m.Name, Err: err,
					Hint: fmt.Sprintf("%s is keyed by %s", m.Name, m.KeyType)}
			}
			mp, err := store.MappingForKey(ctx, m.Name, key)
			if errors.Is(err, fleet.ErrNotFound) {
				return &fleet.Error{Op: "route", Target: m.Name, Err: fmt.Errorf("key %s is not mapped to any shard", args[0]),
					Hint: "see the mapped ranges with: fleetplan layout --shard-map " + m.Name}
			}
			if err != nil {
				return err
			}
			// Like the library's data-dependent routing: the mapping must be
			// in the LSM of the shard it names, at the GSM's shard version.
			if v, ok := store.(fleet.MappingValidator); ok && mp.Online {
				if err := v.ValidateMapping(ctx, m.Name, mp); errors.Is(err, fleet.ResultMappingIsOffline) {
					mp.Online = false
				} else if err != nil {
					return &fleet.Error{Op: "route key " + args[0], Err: err, Hint: fleet.HintOf(err)}
				}
			}
			r := views.Route{Key: args[0], ShardMap: m.Name, Server: mp.Location.Server, Database: mp.Location.Database,
				Low: shardkey.FormatBound(m.KeyType, mp.Min), High: shardkey.FormatBound(m.KeyType, mp.Max), Online: mp.Online, Mapping: mp.ID.String()}
			if p, ok := t.(databasePather); ok {
				if r.File, err = p.DatabasePath(ctx, mp.Location); err != nil {
					return err
				}
			}
			return a.view.Route(r, m.Type == fleet.ListMap, format)
		},
	}
	ff.add(cmd)
	addShardMapFlag(cmd, &mapName)
	cmd.Flags().StringVar(&profile, flagProfile, "", "tell which endpoint of this traffic-manager profile serves, instead of routing a key")
	addFormatFlag(cmd, &format, formatText, formatJSON)
	return cmd
}

// pickMap finds the named map, or the only map when name is empty.
func pickMap(ctx context.Context, store fleet.ShardMapStore, name string) (fleet.ShardMap, error) {
	if name != "" {
		return store.ShardMap(ctx, name)
	}
	maps, err := store.ShardMaps(ctx)
	if err != nil {
		return fleet.ShardMap{}, err
	}
	if len(maps) == 0 {
		return fleet.ShardMap{}, &fleet.Error{Op: "route", Err: fmt.Errorf("%w: the fleet has no shard maps", fleet.ErrNotFound),
			Hint: "create one by applying a ShardLayout plan"}
	}
	if len(maps) != 1 {
		var names []string
		for _, m := range maps {
			names = append(names, m.Name)
		}
		return fleet.ShardMap{}, usageErr(fmt.Sprintf("--shard-map is required: the fleet has %s %v", views.Plural(len(maps), "shard map"), names),
			"pass --shard-map NAME")
	}
	return maps[0], nil
}
