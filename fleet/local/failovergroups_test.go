package local

import (
	"context"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

// failoverFleet is a local fleet with group fog-app: sql-1's app and
// orders, geo-replicated to sql-2 and healthy.
func failoverFleet(t *testing.T) (*Target, fleettest.FailoverFixture) {
	ctx := context.Background()
	tg, err := Init(ctx, t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.SetTimeScale(0) // seeding is instant
	dbs := []string{"app", "orders"}
	for _, db := range dbs {
		loc := fleet.Location{Server: "sql-1", Database: db}
		if err := tg.CreateDatabase(ctx, loc); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.CreateSecondary(ctx, loc, fleet.Location{Server: "sql-2", Database: db}, "northeurope"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.CreateFailoverGroup(ctx, "fog-app", "sql-1", "sql-2", dbs, fleet.FailoverManual, 0); err != nil {
		t.Fatal(err)
	}
	return tg, fleettest.FailoverFixture{Manager: tg, Group: "fog-app", Primary: "sql-1", Secondary: "sql-2", Databases: dbs,
		Lag: func(t *testing.T) {
			// The orders secondary is still catching up for an hour.
			_, err := tg.catalog.ExecContext(ctx, `UPDATE replication_timing SET healthy_at = ?, scale = 1
				WHERE link_id IN (SELECT id FROM replication_links WHERE partner_db = 'orders')`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
			if err != nil {
				t.Fatal(err)
			}
		}}
}

func TestFailoverGroupContract(t *testing.T) {
	fleettest.RunFailoverGroups(t, func(t *testing.T) fleettest.FailoverFixture {
		_, f := failoverFleet(t)
		return f
	})
}

// A planned failover gives the new primary every write first and turns the
// links around; a forced one keeps what the new primary had and overwrites
// the old primary with it.
func TestFailoverMovesRolesAndData(t *testing.T) {
	ctx := context.Background()
	tg, f := failoverFleet(t)
	app1, app2 := fleet.Location{Server: "sql-1", Database: "app"}, fleet.Location{Server: "sql-2", Database: "app"}
	if _, err := tg.RunScript(ctx, app1, "CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(1);"); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Failover(ctx, fleet.FailoverRequest{Group: f.Group, Server: "sql-2"}); err != nil {
		t.Fatal(err)
	}
	for loc, role := range map[fleet.Location]fleet.DatabaseRole{app1: fleet.RoleSecondary, app2: fleet.RolePrimary} {
		info, err := tg.Database(ctx, loc)
		if err != nil || info.Role != role {
			t.Fatalf("%s after failover: %+v %v; want %s", loc, info, err, role)
		}
	}
	if _, err := tg.RunScript(ctx, app1, "INSERT INTO t VALUES(2);"); err == nil {
		t.Fatal("the old primary took a write after the failover")
	}
	if _, err := tg.RunScript(ctx, app2, "INSERT INTO t VALUES(2);"); err != nil {
		t.Fatalf("the new primary refuses writes: %v", err)
	}
	if n := rows(t, tg, app1); n != 2 {
		t.Fatalf("the new secondary has %d rows; want the primary's 2", n)
	}
	// A write on sql-2 that has not replicated is lost by a forced failover back.
	f.Lag(t)
	db, err := tg.db(ctx, app2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES(3)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Failover(ctx, fleet.FailoverRequest{Group: f.Group, Server: "sql-1", Forced: true, AllowDataLoss: true}); err != nil {
		t.Fatal(err)
	}
	if a, b := rows(t, tg, app1), rows(t, tg, app2); a != 2 || b != 2 {
		t.Fatalf("after the forced failover sql-1 has %d rows and sql-2 %d; want 2 and 2 (the unreplicated row lost)", a, b)
	}
}

func rows(t *testing.T, tg *Target, loc fleet.Location) int {
	t.Helper()
	db, err := tg.db(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
