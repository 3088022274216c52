package local

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// switchedContoso moves contoso's traffic to an upgraded copy on
// contoso-2, as the upgrade templates do.
func switchedContoso(t *testing.T) *Target {
	t.Helper()
	ctx := context.Background()
	tg := newContoso(t)
	for _, step := range []func() error{
		func() error { _, err := tg.CreateSecondary(ctx, ContosoLocation, stagingLoc, ""); return err },
		func() error { return tg.Disconnect(ctx, stagingLoc) },
		func() error { return tg.SetReadOnly(ctx, stagingLoc, false) },
		func() error {
			return tg.DeploySlot(ctx, fleet.Slot{Name: "contoso-2", Version: "2", Database: stagingLoc})
		},
		func() error {
			_, err := tg.AddEndpoint(ctx, fleet.Endpoint{Profile: ContosoProfile, Name: "contoso-2", Target: "contoso-2"})
			return err
		},
		func() error { return tg.SwitchTraffic(ctx, ContosoProfile, ContosoEndpoint, "contoso-2") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return tg
}

func TestWritesSinceSwitch(t *testing.T) {
	for name, c := range map[string]struct {
		write string
		want  []fleet.TableChange
	}{
		"nothing written": {},
		"an insert": {`INSERT INTO accounts(id, name, email, plan, created_at) VALUES(5000, 'n', 'n@x', 'free', '2026')`,
			[]fleet.TableChange{{Table: "accounts", RowsThen: 1000, RowsNow: 1001}}},
		"an update keeps the count": {`UPDATE accounts SET name = name || ' Jr' WHERE id = 3`,
			[]fleet.TableChange{{Table: "accounts", RowsThen: 1000, RowsNow: 1000}}},
		"a delete": {`DELETE FROM invoices WHERE id = 30`, []fleet.TableChange{{Table: "invoices", RowsThen: 3000, RowsNow: 2999}}},
		"a new table": {`CREATE TABLE notes(id INTEGER); INSERT INTO notes VALUES(1), (2)`,
			[]fleet.TableChange{{Table: "notes", RowsThen: -1, RowsNow: 2}}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg := switchedContoso(t)
			if c.write != "" {
				if err := tg.ApplySQL(ctx, stagingLoc, c.write); err != nil {
					t.Fatal(err)
				}
			}
			got, tracked, err := tg.WritesSinceSwitch(ctx, stagingLoc)
			if err != nil || !tracked {
				t.Fatalf("WritesSinceSwitch: tracked %t, %v", tracked, err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestWritesSinceSwitchUntracked(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	if _, tracked, err := tg.WritesSinceSwitch(ctx, ContosoLocation); err != nil || tracked {
		t.Fatalf("a database traffic never switched to: tracked %t, %v", tracked, err)
	}
}

func TestKeepDatabase(t *testing.T) {
	ctx := context.Background()
	tg := switchedContoso(t)
	if err := tg.ApplySQL(ctx, stagingLoc, `DELETE FROM invoices WHERE id = 30`); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.KeepDatabase(ctx, stagingLoc, "contoso-kept"); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("keeping a database an app slot points at: %v, want ErrConflict", err)
	}
	if err := tg.SwitchTraffic(ctx, ContosoProfile, "contoso-2", ContosoEndpoint); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveEndpoint(ctx, ContosoProfile, "contoso-2"); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveSlot(ctx, "contoso-2"); err != nil {
		t.Fatal(err)
	}
	where, err := tg.KeepDatabase(ctx, stagingLoc, "contoso-kept")
	if err != nil {
		t.Fatal(err)
	}
	kept := fleet.Location{Server: "contoso-2", Database: "contoso-kept"}
	if _, err := os.Stat(tg.pathOf(kept)); err != nil || where == "" {
		t.Fatalf("kept file: %v (%q)", err, where)
	}
	if _, err := os.Stat(tg.pathOf(stagingLoc)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old file is still there: %v", err)
	}
	if n := count(t, tg, kept, `SELECT count(*) FROM invoices`); n != 2999 {
		t.Fatalf("kept database has %d invoices, want 2999", n)
	}
	// The baseline follows the database: what was written is still told.
	if got, tracked, err := tg.WritesSinceSwitch(ctx, kept); err != nil || !tracked || len(got) != 1 {
		t.Fatalf("after keeping: %v %t %v", got, tracked, err)
	}
	// Again: a no-op that says the same place.
	if again, err := tg.KeepDatabase(ctx, stagingLoc, "contoso-kept"); err != nil || again != where {
		t.Fatalf("keeping again: %q %v", again, err)
	}
}

// TestKeepDatabaseCutShort: a crash after the file moved and before the
// catalog followed. The database then counts as written (nothing can be
// told, so it is kept, not dropped), and keeping it again finishes the job.
func TestKeepDatabaseCutShort(t *testing.T) {
	ctx := context.Background()
	tg := switchedContoso(t)
	if err := tg.SwitchTraffic(ctx, ContosoProfile, "contoso-2", ContosoEndpoint); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveEndpoint(ctx, ContosoProfile, "contoso-2"); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveSlot(ctx, "contoso-2"); err != nil {
		t.Fatal(err)
	}
	kept := fleet.Location{Server: "contoso-2", Database: "contoso-kept"}
	tg.closePools(tg.pathOf(stagingLoc))
	if err := os.Rename(tg.pathOf(stagingLoc), tg.pathOf(kept)); err != nil {
		t.Fatal(err)
	}
	if got, tracked, err := tg.WritesSinceSwitch(ctx, stagingLoc); err != nil || !tracked || len(got) != 1 {
		t.Fatalf("with the file moved away: %v %t %v; want one change", got, tracked, err)
	}
	if _, err := tg.KeepDatabase(ctx, stagingLoc, "contoso-kept"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, tg, kept, `SELECT count(*) FROM accounts`); n != 1000 {
		t.Fatalf("kept database has %d accounts", n)
	}
}
