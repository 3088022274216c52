package local

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
)

// writeUnlisted creates an SQLite file in the fleet directory that the
// catalog does not list, as someone copying a database in by hand would.
func writeUnlisted(t *testing.T, tg *Target, loc fleet.Location, script string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(tg.dir, loc.Server, loc.Database+".db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(script); err != nil {
		t.Fatal(err)
	}
}

func TestUnlistedDatabaseIsNeverTakenOverSilently(t *testing.T) {
	ctx := context.Background()
	tg := moverFleet(t, 10)
	loc := fleet.Location{Server: DemoServer, Database: "customers_2"}
	writeUnlisted(t, tg, loc, ShardSchemaSQL+`; INSERT INTO customers(id, name) VALUES(80000, 'kept'), (10, 'kept too');`)

	got, err := tg.InspectDatabase(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	want := fleet.DatabaseContents{Exists: true, Tables: []fleet.TableRows{{Name: "customers", Rows: 2}, {Name: "orders"}, {Name: "regions"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("InspectDatabase (-want +got):\n%s", diff)
	}
	if err := tg.CreateDatabase(ctx, loc); !errors.Is(err, fleet.ErrDatabaseExists) {
		t.Fatalf("CreateDatabase over an unlisted file = %v, want ErrDatabaseExists", err)
	}
	if n, err := tg.CountRange(ctx, loc, "customers", "id", fleet.KeyRange{Low: int64(75000)}); err != nil || n != 1 {
		t.Fatalf("CountRange on the unlisted file = %d, %v; want 1", n, err)
	}
	if err := tg.AdoptDatabase(ctx, loc); err != nil {
		t.Fatal(err)
	}
	if got, err := tg.InspectDatabase(ctx, loc); err != nil || !got.Listed || got.Rows() != 2 {
		t.Fatalf("after adopting: %+v, %v; want listed with its 2 rows", got, err)
	}
	if err := tg.ReleaseDatabase(ctx, loc); err != nil {
		t.Fatal(err)
	}
	if got, err := tg.InspectDatabase(ctx, loc); err != nil || got.Listed || !got.Exists || got.Rows() != 2 {
		t.Fatalf("after releasing: %+v, %v; want unlisted, the file and its 2 rows still there", got, err)
	}
	if err := tg.ReleaseDatabase(ctx, fleet.Location{Server: DemoServer, Database: "smm"}); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("releasing the shard map manager = %v, want a refusal", err)
	}
	missing := fleet.Location{Server: DemoServer, Database: "nowhere"}
	if err := tg.AdoptDatabase(ctx, missing); !errors.Is(err, fleet.ErrNoDatabase) {
		t.Fatalf("adopting a missing database = %v, want ErrNoDatabase", err)
	}
	if got, err := tg.InspectDatabase(ctx, missing); err != nil || got.Exists || got.Listed {
		t.Fatalf("InspectDatabase of a missing database = %+v, %v", got, err)
	}
}

func TestCompareAndDeleteCopies(t *testing.T) {
	ctx := context.Background()
	tg := moverFleet(t, 100)
	fresh := fleet.Location{Server: DemoServer, Database: "customers_2"}
	if err := tg.CreateDatabase(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if err := tg.ApplySQL(ctx, fresh, ShardSchemaSQL); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.CopyTableIfEmpty(ctx, DemoShards[0], fresh, "regions"); err != nil {
		t.Fatal(err)
	}
	r := fleet.KeyRange{Low: int64(10), High: int64(20)}
	if _, err := tg.CopyRange(ctx, DemoShards[0], fresh, demoTables, r); err != nil {
		t.Fatal(err)
	}
	// Someone else's rows in the same range: one new, one changed copy.
	if err := tg.ApplySQL(ctx, fresh, `INSERT INTO customers(id, name) VALUES(19000, 'other');
		UPDATE customers SET name = 'changed' WHERE id = 11;`); err != nil {
		t.Fatal(err)
	}
	wide := fleet.KeyRange{Low: int64(10)}
	got, err := tg.CompareRange(ctx, DemoShards[0], fresh, "customers", "id", wide)
	if err != nil {
		t.Fatal(err)
	}
	if want := (fleet.RangeComparison{Copies: 9, Others: 2}); got != want {
		t.Fatalf("CompareRange = %+v, want %+v", got, want)
	}
	if _, err := tg.DeleteCopies(ctx, DemoShards[0], fresh, demoChildren, wide); err != nil {
		t.Fatal(err)
	}
	if n, _ := tg.CountRange(ctx, fresh, "customers", "id", fleet.KeyRange{}); n != 2 {
		t.Fatalf("customers left = %d, want the 2 that were not copies", n)
	}
	if n, _ := tg.CountRange(ctx, fresh, "orders", "customer_id", fleet.KeyRange{}); n != 0 {
		t.Fatalf("orders left = %d, want 0 (all were copies)", n)
	}
}
