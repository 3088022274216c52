package fleettest

import (
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// The port of FromLogEntry is strict where the library is: the shapes
// fleetplan wrote before (no PatternForKill, KillConnection as a number,
// split adds without a Lock) are rejected, and the library's own documents
// read.
func TestReadAsLibraryIsStrict(t *testing.T) {
	m := fleet.ShardMap{ID: uuid.New(), Name: "R", Type: fleet.RangeMap, KeyType: fleet.KeyInt64}
	a := fleet.Shard{ID: uuid.New(), Version: uuid.New(), MapID: m.ID, Location: fleet.Location{Server: "s", Database: "a"}, Status: fleet.ShardOnline}
	b := fleet.Shard{ID: uuid.New(), Version: uuid.New(), MapID: m.ID, Location: fleet.Location{Server: "s", Database: "b"}, Status: fleet.ShardOnline}
	mp := fleet.Mapping{ID: uuid.New(), MapID: m.ID, ShardID: a.ID, Min: []byte{}, Max: key(t, 100), Online: true, Location: a.Location}
	offline := elasticdb.SetOnlineOp(m, a, mp, false, fleet.NoLock)
	move := elasticdb.RepointOp(m, a, b, mp, true, fleet.NoLock)
	split := elasticdb.SplitOp(m, a, mp, key(t, 50), fleet.NoLock)
	for _, op := range []*elasticdb.Operation{offline, move, split} {
		doc, err := op.XML()
		if err != nil {
			t.Fatal(err)
		}
		if err := ReadAsLibrary(op.Code, doc); err != nil {
			t.Errorf("code %d: our document is rejected: %v", op.Code, err)
		}
		if err := ReadAsLibrary(op.Code, LibraryDocument(op)); err != nil {
			t.Errorf("code %d: the library's own document is rejected: %v", op.Code, err)
		}
	}
	for name, tc := range map[string]struct {
		op       *elasticdb.Operation
		old, new string
	}{
		"update without PatternForKill": {offline, "<PatternForKill>", "<Pattern>"},
		"KillConnection as a number":    {move, "<KillConnection>true<", "<KillConnection>1<"},
		"split add without Lock":        {split, `Kind="3" Id="2"><Lock>`, `Kind="3" Id="2"><NoLock>`},
	} {
		doc, _ := tc.op.XML()
		bad := strings.Replace(doc, tc.old, tc.new, 1)
		if bad == doc {
			t.Fatalf("%s: %q is not in the document", name, tc.old)
		}
		if err := ReadAsLibrary(tc.op.Code, bad); err == nil {
			t.Errorf("%s: the port accepts it", name)
		}
	}
}
