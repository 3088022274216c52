package views

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// EmptyFleet says fleet init made an empty fleet in dir and how to use it.
func (v *View) EmptyFleet(dir string, smm fleet.Location) {
	v.printf("Created an empty fleet in %s\n", dir)
	v.printf("  shard map manager: %s (created with the first shard map)\n", smm)
	v.printf("Next: add a target to fleetplan.yaml:\n  targets:\n    local: {driver: local, path: %s}\n", dir)
}

// DemoFleet describes the demo fleet fleet init made in dir, from its layout.
func (v *View) DemoFleet(dir string, lay *fleet.Layout) {
	m := lay.Maps[0]
	v.printf("Created the demo fleet in %s\n", dir)
	v.printf("  server %s: %s (shard map manager), %s\n", local.DemoServer, local.DemoManagerDatabase,
		strings.Join([]string{local.DemoShards[0].Database, local.DemoShards[1].Database}, ", "))
	var ranges []string
	for _, mp := range m.Mappings {
		ranges = append(ranges, fmt.Sprintf("[%s, %s) -> %s", shardkey.FormatBound(m.Map.KeyType, mp.Min),
			shardkey.FormatBound(m.Map.KeyType, mp.Max), mp.Location.Database))
	}
	v.printf("  shard map %s (%s, %s): %s\n", m.Map.Name, m.Map.Type, m.Map.KeyType, strings.Join(ranges, ", "))
	for _, s := range m.Shards {
		v.printf("  %s: %d customers, %d orders, %d regions\n", s.Shard.Location.Database,
			s.RowCounts["customers"], s.RowCounts["orders"], s.RowCounts["regions"])
	}
	v.printf("Next: fleetplan layout --fleet %s\n", dir)
}
