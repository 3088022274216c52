package stepstest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// Snapshot describes everything in a fleet a step can change, one fact a
// line: databases (settings, tables, their columns, row counts and
// checksums), geo-replication links, failover groups, app slots, traffic-manager profiles,
// and shard maps (shards, mappings, schema info). With identity it also
// holds what an Elastic Database client caches by (mapping and shard ids and
// versions), so a change that rewrites equal values shows; without it two
// fleets in the same state describe alike however they got there.
func Snapshot(ctx context.Context, tg fleet.Target, identity bool) (string, error) {
	var lines []string
	add := func(format string, v ...any) { lines = append(lines, fmt.Sprintf(format, v...)) }
	if err := databases(ctx, tg, add); err != nil {
		return "", err
	}
	if cp, ok := tg.(fleet.ControlPlane); ok {
		if err := controlPlane(ctx, cp, add); err != nil {
			return "", err
		}
	}
	if st, ok := tg.(fleet.ShardMapStore); ok {
		if err := shardMaps(ctx, st, identity, add); err != nil {
			return "", err
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

func databases(ctx context.Context, tg fleet.Target, add func(string, ...any)) error {
	admin, ok := tg.(fleet.DatabaseAdmin)
	if !ok {
		return nil
	}
	dbs, err := admin.Databases(ctx)
	if err != nil {
		return err
	}
	cp, _ := tg.(fleet.ControlPlane)
	data, _ := tg.(fleet.DataMover)
	for _, loc := range dbs {
		if cp != nil {
			info, err := cp.Database(ctx, loc)
			if err != nil {
				return err
			}
			add("database %s region=%s readOnly=%t role=%s origin=%s stale=%t", loc, info.Region, info.ReadOnly, info.Role, info.Origin, info.Stale)
		} else {
			add("database %s", loc)
		}
		if data == nil {
			continue
		}
		tables, err := data.Tables(ctx, loc)
		if err != nil {
			return err
		}
		for _, t := range tables {
			n, sum, err := data.Checksum(ctx, loc, t.Name, t.Columns[0], fleet.KeyRange{})
			if err != nil {
				return err
			}
			add("table %s.%s (%s) rows=%d checksum=%s", loc, t.Name, strings.Join(t.Columns, ", "), n, sum)
		}
	}
	return nil
}

func controlPlane(ctx context.Context, cp fleet.ControlPlane, add func(string, ...any)) error {
	links, err := cp.Links(ctx)
	if err != nil {
		return err
	}
	for _, l := range links {
		add("link %s -> %s %s", l.Primary, l.Secondary, l.State)
	}
	slots, err := cp.Slots(ctx)
	if err != nil {
		return err
	}
	for _, s := range slots {
		add("slot %s version=%s database=%s state=%s", s.Name, s.Version, s.Database, s.State)
	}
	profiles, err := cp.Profiles(ctx)
	if err != nil {
		return err
	}
	for _, p := range profiles {
		add("profile %s serving=%s", p.Name, p.Serving)
		for _, e := range p.Endpoints {
			add("endpoint %s/%s target=%s online=%t priority=%d", p.Name, e.Name, e.Target, e.Online, e.Priority)
		}
	}
	if m, ok := cp.(fleet.FailoverGroupManager); ok {
		groups, err := m.FailoverGroups(ctx, "")
		if err != nil {
			return err
		}
		for _, g := range groups {
			add("failover group %s primary=%s secondary=%s databases=%s policy=%s state=%s", g.Name, g.Primary, g.Secondary, strings.Join(g.Databases, ","), g.ReadWritePolicy, g.State)
		}
	}
	return nil
}

func shardMaps(ctx context.Context, st fleet.ShardMapStore, identity bool, add func(string, ...any)) error {
	maps, err := st.ShardMaps(ctx)
	if err != nil {
		return err
	}
	for _, m := range maps {
		add("shard map %s %s of %s keys", m.Name, m.Type, m.KeyType)
		shards, err := st.Shards(ctx, m.Name)
		if err != nil {
			return err
		}
		for _, s := range shards {
			if identity {
				add("shard %s/%s id=%s version=%s status=%d", m.Name, s.Location, s.ID, s.Version, s.Status)
			} else {
				add("shard %s/%s status=%d", m.Name, s.Location, s.Status)
			}
		}
		mappings, err := st.Mappings(ctx, m.Name)
		if err != nil {
			return err
		}
		for _, mp := range mappings {
			line := fmt.Sprintf("mapping %s [%s, %s) on %s online=%t lock=%s", m.Name,
				shardkey.BoundString(mp.Min), shardkey.BoundString(mp.Max), mp.Location, mp.Online, mp.LockOwner)
			if identity {
				line += " id=" + mp.ID.String()
			}
			add("%s", line)
		}
		info, err := st.SchemaInfo(ctx, m.Name)
		if err != nil && !errors.Is(err, fleet.ErrNotFound) {
			return err
		}
		add("schema info %s %v", m.Name, info)
	}
	return nil
}
