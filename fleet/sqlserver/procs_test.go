package sqlserver

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// numberIDs replaces the fresh ids of built operations by sequential ones,
// in order of first appearance, so the documents compare with a golden file.
func numberIDs(doc string) string {
	seen := map[string]string{}
	return uuidRe.ReplaceAllStringFunc(doc, func(u string) string {
		if u == uuid.Nil.String() || u == fleet.ForceUnlock.String() {
			return u
		}
		if _, ok := seen[u]; !ok {
			seen[u] = fmt.Sprintf("00000000-0000-0000-0000-%012d", len(seen)+1)
		}
		return seen[u]
	})
}

// goldOps is every operation the driver performs, on fixed rows.
func goldOps() map[string]*elasticdb.Operation {
	m := goldMap
	a := fleet.Shard{ID: gid(2), Version: gid(3), MapID: m.ID, Location: fleet.Location{Server: "sql-1.database.windows.net", Database: "customers_0"}, Status: 1}
	b := fleet.Shard{ID: gid(12), Version: gid(13), MapID: m.ID, Location: fleet.Location{Server: "sql-2.database.windows.net", Database: "customers_1"}, Status: 1}
	online := fleet.Mapping{ID: gid(4), MapID: m.ID, ShardID: a.ID, Min: []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, Online: true, Location: a.Location}
	offline := online
	offline.Online = false
	right := fleet.Mapping{ID: gid(5), MapID: m.ID, ShardID: a.ID, Min: []byte{0x80, 0, 0, 0, 0, 0, 0x27, 0x10}, Online: true, Location: a.Location}
	online.Max = right.Min
	lock := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	return map[string]*elasticdb.Operation{
		"add shard":       elasticdb.AddShardOp(m, b.Location),
		"remove shard":    elasticdb.RemoveShardOp(m, b),
		"add mapping":     elasticdb.AddMappingOp(m, a, right.Min, nil),
		"take offline":    elasticdb.SetOnlineOp(m, a, online, false, lock),
		"bring online":    elasticdb.SetOnlineOp(m, a, offline, true, lock),
		"move offline":    elasticdb.RepointOp(m, a, b, offline, false, lock),
		"move and online": elasticdb.RepointOp(m, a, b, offline, true, lock),
		"split":           elasticdb.SplitOp(m, a, online, []byte{0x80, 0, 0, 0, 0, 0, 0x13, 0x88}, lock),
		"merge":           elasticdb.MergeOp(m, a, online, right, lock),
		"remove mapping":  elasticdb.RemoveMappingOp(m, a, offline, lock),
	}
}

// TestLocalCallsGolden shows, for every operation the driver performs, the
// local procedures it calls in which database, in order, with their
// documents, for the operation and for its undo: the library's sequence
// (source before target; undo target before source; routing sessions
// killed after a mapping goes offline).
func TestLocalCallsGolden(t *testing.T) {
	ops := goldOps()
	got := map[string]string{}
	for name, op := range ops {
		for _, undo := range []bool{false, true} {
			var b strings.Builder
			for _, c := range localCalls(op, undo) {
				fmt.Fprintf(&b, "%s in %s", c.proc, c.loc)
				if c.kill {
					fmt.Fprintf(&b, ", then %s", spKillSessions)
				}
				b.WriteString("\n" + c.doc + "\n")
			}
			key := name
			if undo {
				key += " (undo)"
			}
			got[key] = numberIDs(b.String())
		}
	}
	golden(t, "localcalls.golden", got)

	// The kill follows only an online-to-offline update on the source.
	for name, op := range ops {
		calls := localCalls(op, false)
		kill := len(calls) > 0 && calls[0].kill
		if want := name == "take offline"; kill != want {
			t.Errorf("%s: kill = %v, want %v", name, kill, want)
		}
	}
}
