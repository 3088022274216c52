package recovery

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// PlanSpec is a ShardMapRecovery document's spec as doctor writes it.
type PlanSpec struct {
	Target   string           `json:"target"`
	ShardMap string           `json:"shardMap"`
	Failover *Failover        `json:"failover,omitempty"`
	Update   []Move           `json:"updateLocation,omitempty"`
	Attach   []fleet.Location `json:"attach,omitempty"`
	Resolve  []Resolve        `json:"resolve,omitempty"`
	// MoveMisplacedRows moves rows whose keys the global shard map sends to
	// another shard onto that shard (after the mappings are resolved).
	MoveMisplacedRows bool `json:"moveMisplacedRows,omitempty"`
}

// Failover is a geo-failover of every shard of a server.
type Failover struct {
	FromServer string `json:"fromServer"`
	ToServer   string `json:"toServer"`
}

// Move repoints one shard.
type Move struct {
	From fleet.Location `json:"from"`
	To   fleet.Location `json:"to"`
}

// Resolve resolves the differences of some shards one way.
type Resolve struct {
	Resolution string           `json:"resolution"`
	Shards     []fleet.Location `json:"shards"`
}

// Empty reports whether the spec would change nothing.
func (p *PlanSpec) Empty() bool {
	return p.Failover == nil && len(p.Update) == 0 && len(p.Attach) == 0 && len(p.Resolve) == 0 && !p.MoveMisplacedRows
}

func (p *PlanSpec) resolve(resolution string, loc fleet.Location) {
	for i := range p.Resolve {
		if p.Resolve[i].Resolution == resolution {
			p.Resolve[i].Shards = append(p.Resolve[i].Shards, loc)
			return
		}
	}
	p.Resolve = append(p.Resolve, Resolve{Resolution: resolution, Shards: []fleet.Location{loc}})
}

func locYAML(l fleet.Location) string {
	return fmt.Sprintf("{server: %s, database: %s}", l.Server, l.Database)
}

// YAML renders the spec as a ShardMapRecovery document named name, with
// the findings it fixes as comments.
func (p *PlanSpec) YAML(name string, why []string) string {
	var b strings.Builder
	b.WriteString("# Written by `fleetplan doctor`: it fixes what doctor found in shard map " + p.ShardMap + ":\n")
	for _, w := range why {
		b.WriteString("#   " + w + "\n")
	}
	b.WriteString("# Preview with `fleetplan plan FILE`, apply with `fleetplan apply FILE`, then run doctor again.\n")
	fmt.Fprintf(&b, "apiVersion: fleetplan/v1\nkind: ShardMapRecovery\nmetadata:\n  name: %s\nspec:\n  target: %s\n  shardMap: %s\n", name, p.Target, p.ShardMap)
	if p.Failover != nil {
		fmt.Fprintf(&b, "  failover: {fromServer: %s, toServer: %s}\n", p.Failover.FromServer, p.Failover.ToServer)
	}
	if len(p.Update) > 0 {
		b.WriteString("  updateLocation:\n")
		for _, u := range p.Update {
			fmt.Fprintf(&b, "    - {from: %s, to: %s}\n", locYAML(u.From), locYAML(u.To))
		}
	}
	if len(p.Attach) > 0 {
		b.WriteString("  attach:\n")
		for _, a := range p.Attach {
			fmt.Fprintf(&b, "    - %s\n", locYAML(a))
		}
	}
	switch {
	case len(p.Resolve) == 0 && p.Failover != nil:
		b.WriteString("  resolve: keepShardMapping\n")
	case len(p.Resolve) > 0:
		b.WriteString("  resolve:\n")
		for _, r := range p.Resolve {
			fmt.Fprintf(&b, "    - resolution: %s\n      shards:\n", r.Resolution)
			for _, s := range r.Shards {
				fmt.Fprintf(&b, "        - %s\n", locYAML(s))
			}
		}
	}
	if p.MoveMisplacedRows {
		b.WriteString("  moveMisplacedRows: true\n")
	}
	return b.String()
}
