package recovery

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/local"
	_ "modernc.org/sqlite"
)

func demo(t *testing.T) *local.Target {
	t.Helper()
	tg, err := local.CreateDemo(context.Background(), filepath.Join(t.TempDir(), "fleet"), local.DemoOptions{Customers: 300, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// execSQL breaks a database by hand, as an operator with sqlite3 would.
func execSQL(t *testing.T, tg *local.Target, loc fleet.Location, stmt string, args ...any) {
	t.Helper()
	p, err := tg.DatabasePath(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+p+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt, args...); err != nil {
		t.Fatal(err)
	}
}

func diagnose(t *testing.T, tg *local.Target) *Report {
	t.Helper()
	rep, err := Diagnose(context.Background(), tg, Options{Target: "local", Batch: 40})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func kinds(rep *Report) string {
	var ks []string
	for _, f := range rep.Findings {
		ks = append(ks, f.Kind)
	}
	return strings.Join(ks, ",")
}

var (
	c0 = fleet.Location{Server: "sql-1", Database: "customers_0"}
	c1 = fleet.Location{Server: "sql-1", Database: "customers_1"}
)

func TestDoctorHealthy(t *testing.T) {
	rep := diagnose(t, demo(t))
	if !rep.Healthy() || len(rep.Plans) != 0 || rep.Batches == 0 {
		t.Fatalf("demo fleet: findings %v, plans %d, batches %d", rep.Findings, len(rep.Plans), rep.Batches)
	}
}

func TestDoctorFailoverPlan(t *testing.T) {
	tg := demo(t)
	if _, err := tg.SimulateGeoFailover(context.Background(), "sql-1", "sql-2"); err != nil {
		t.Fatal(err)
	}
	rep := diagnose(t, tg)
	if kinds(rep) != "ShardMoved,ShardMoved" || len(rep.Plans) != 1 {
		t.Fatalf("findings %s, plans %+v", kinds(rep), rep.Plans)
	}
	if f := rep.Plans[0].Failover; f == nil || f.FromServer != "sql-1" || f.ToServer != "sql-2" {
		t.Fatalf("plan %+v, want a failover from sql-1 to sql-2", rep.Plans[0])
	}
	y := rep.Plans[0].YAML("after-failover", nil)
	if !strings.Contains(y, "failover: {fromServer: sql-1, toServer: sql-2}") || !strings.Contains(y, "resolve: keepShardMapping") {
		t.Fatalf("plan file:\n%s", y)
	}
}

func TestDoctorMisplacedRow(t *testing.T) {
	tg := demo(t)
	execSQL(t, tg, c0, `INSERT INTO customers(id, region_id, name) VALUES(60000, 1, 'stray')`)
	rep := diagnose(t, tg)
	if kinds(rep) != "RowsMisplaced" || !rep.Plans[0].MoveMisplacedRows {
		t.Fatalf("findings %+v, plans %+v", rep.Findings, rep.Plans)
	}
	if f := rep.Findings[0]; !f.Shard.Equal(c0) || !strings.Contains(f.Detail, "1 row of customers") || !strings.Contains(f.Detail, "sql-1/customers_1") {
		t.Fatalf("finding %+v", f)
	}
}

func TestDoctorDeletedLSMRowTrustsGSM(t *testing.T) {
	tg := demo(t)
	execSQL(t, tg, c0, `DELETE FROM __ShardManagement_ShardMappingsLocal`)
	rep := diagnose(t, tg)
	if len(rep.Plans) != 1 || len(rep.Plans[0].Resolve) != 1 {
		t.Fatalf("findings %s, plans %+v", kinds(rep), rep.Plans)
	}
	r := rep.Plans[0].Resolve[0]
	if r.Resolution != elasticdb.KeepShardMapMapping || len(r.Shards) != 1 || !r.Shards[0].Equal(c0) {
		t.Fatalf("resolve %+v, want keepShardMapMapping on customers_0 (its rows are there as the GSM says)", r)
	}
}

// A mapping duplicated into the GSM by hand: the shard it names does not
// hold it in its LSM nor hold its rows, so the GSM loses it.
func TestDoctorDuplicatedGSMMapping(t *testing.T) {
	tg := demo(t)
	ctx := context.Background()
	shards, err := tg.Shards(ctx, local.DemoShardMap)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := tg.ShardMap(ctx, local.DemoShardMap)
	var s1 fleet.Shard
	for _, s := range shards {
		if s.Location.Equal(c1) {
			s1 = s
		}
	}
	smm, _ := tg.ShardMapManager(ctx)
	execSQL(t, tg, smm, `INSERT INTO __ShardManagement_ShardMappingsGlobal(MappingId, Readable, ShardId, ShardMapId, MinValue, MaxValue, Status)
		VALUES('5a6b0c1d-0000-4000-8000-000000000001', 1, ?, ?, x'8000000000000064', x'80000000000000c8', 1)`, s1.ID.String(), m.ID.String())
	rep := diagnose(t, tg)
	if !strings.Contains(kinds(rep), fleet.DiffGSMMappingsOverlap) || len(rep.Plans) != 1 {
		t.Fatalf("findings %s, plans %+v", kinds(rep), rep.Plans)
	}
	r := rep.Plans[0].Resolve
	if len(r) != 1 || r[0].Resolution != elasticdb.KeepShardMapping || !r[0].Shards[0].Equal(c1) {
		t.Fatalf("resolve %+v, want keepShardMapping on customers_1 (drops the duplicate from the GSM)", r)
	}
}
