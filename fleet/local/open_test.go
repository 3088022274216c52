package local

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// demo builds a small demo fleet and returns its directory (closed).
func demoDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tg, err := CreateDemo(context.Background(), dir, DemoOptions{Customers: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tg.Close()
	return dir
}

func rawExec(t *testing.T, path, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesBadFleets(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		setup   func(t *testing.T) string
		want    error
		hintHas string
	}{
		"missing directory": {
			setup: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			want:  fleet.ErrNotAFleet, hintHas: "fleet init",
		},
		"a file, not a directory": {
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "file")
				os.WriteFile(p, []byte("x"), 0o644)
				return p
			},
			want: fleet.ErrNotAFleet, hintHas: "fleet init",
		},
		"directory without catalog": {
			setup: func(t *testing.T) string { return t.TempDir() },
			want:  fleet.ErrNotAFleet, hintHas: "fleet init",
		},
		"catalog is not SQLite": {
			setup: func(t *testing.T) string {
				d := t.TempDir()
				os.WriteFile(filepath.Join(d, CatalogFile), []byte("this is a text file, not a database at all"), 0o644)
				return d
			},
			want: fleet.ErrNotADatabase, hintHas: "backup",
		},
		"SQLite but not a catalog": {
			setup: func(t *testing.T) string {
				d := t.TempDir()
				rawExec(t, filepath.Join(d, CatalogFile), `CREATE TABLE x(y)`)
				return d
			},
			want: fleet.ErrNotAFleet, hintHas: "fleet init",
		},
		"catalog of another version": {
			setup: func(t *testing.T) string {
				d := demoDir(t)
				rawExec(t, filepath.Join(d, CatalogFile), `UPDATE fleet_meta SET value = '2' WHERE key = 'version'`)
				return d
			},
			want: fleet.ErrStoreVersion, hintHas: "release",
		},
		"shard map store of another major version": {
			setup: func(t *testing.T) string {
				d := demoDir(t)
				rawExec(t, filepath.Join(d, "sql-1", "smm.db"), `UPDATE `+tSMMGlobal+` SET StoreVersionMajor = 2`)
				return d
			},
			want: fleet.ErrStoreVersion, hintHas: "store version",
		},
		"shard map store 1.0": {
			setup: func(t *testing.T) string {
				d := demoDir(t)
				rawExec(t, filepath.Join(d, "sql-1", "smm.db"), `DROP TABLE `+tSMMGlobal+`; CREATE TABLE `+tSMMGlobal+`(StoreVersion int); INSERT INTO `+tSMMGlobal+` VALUES(1)`)
				return d
			},
			want: fleet.ErrStoreVersion, hintHas: "Upgrade",
		},
		"shard map manager is not SQLite": {
			setup: func(t *testing.T) string {
				d := demoDir(t)
				p := filepath.Join(d, "sql-1", "smm.db")
				os.WriteFile(p, []byte(strings.Repeat("garbage!", 100)), 0o644)
				return d
			},
			want: fleet.ErrNotADatabase, hintHas: "backup",
		},
		"overlapping mappings": {
			setup: func(t *testing.T) string {
				d := demoDir(t)
				k, _ := shardkey.Encode(fleet.KeyInt64, int64(60000))
				rawExec(t, filepath.Join(d, "sql-1", "smm.db"), `UPDATE `+tMappingsGlobal+` SET MaxValue = ? WHERE MaxValue IS NOT NULL`, k)
				return d
			},
			want: fleet.ErrCorruptMappings, hintHas: "`fleetplan doctor --write-plan fix.yaml`",
		},
		"mapping bound of the wrong length": {
			setup: func(t *testing.T) string {
				d := demoDir(t)
				rawExec(t, filepath.Join(d, "sql-1", "smm.db"), `UPDATE `+tMappingsGlobal+` SET MaxValue = x'0102' WHERE MaxValue IS NOT NULL`)
				return d
			},
			want: fleet.ErrCorruptMappings, hintHas: "restore",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := tc.setup(t)
			tg, err := Open(ctx, dir)
			if err == nil {
				tg.Close()
				t.Fatal("Open accepted it")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			var fe *fleet.Error
			if !errors.As(err, &fe) || !strings.Contains(fleet.HintOf(err), tc.hintHas) {
				t.Fatalf("error %v has hint %q, want one mentioning %q", err, fleet.HintOf(err), tc.hintHas)
			}
		})
	}
}

// A shard file that is not SQLite is reported when the shard is read.
func TestShardFileNotSQLite(t *testing.T) {
	dir := demoDir(t)
	os.WriteFile(filepath.Join(dir, "sql-1", "customers_1.db"), []byte(strings.Repeat("not sqlite", 50)), 0o644)
	tg, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	_, err = tg.Observe(context.Background(), "")
	if !errors.Is(err, fleet.ErrNotADatabase) || fleet.HintOf(err) == "" {
		t.Fatalf("Observe error %v, want ErrNotADatabase with a hint", err)
	}
}

func TestDatabaseAdmin(t *testing.T) {
	ctx := context.Background()
	tg, err := Init(ctx, t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	a := fleet.Location{Server: "srv", Database: "a"}
	if err := tg.CreateDatabase(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := tg.CreateDatabase(ctx, fleet.Location{Server: "SRV", Database: "A"}); err != nil {
		t.Fatalf("CreateDatabase is not idempotent (case-insensitive): %v", err)
	}
	p, err := tg.DatabasePath(ctx, fleet.Location{Server: "Srv", Database: "A"})
	if err != nil || p != filepath.Join(tg.Dir(), "srv", "a.db") {
		t.Fatalf("DatabasePath = %q, %v", p, err)
	}
	if err := checkSQLiteFile(p); err != nil {
		t.Fatalf("created file is not SQLite: %v", err)
	}
	if err := tg.ApplySQL(ctx, a, `CREATE TABLE t(x); INSERT INTO t VALUES(1); INSERT INTO t VALUES(2);`); err != nil {
		t.Fatal(err)
	}
	if err := tg.ApplySQL(ctx, a, `INSERT INTO t VALUES(3); SELECT nope FROM missing;`); err == nil {
		t.Fatal("a failing script succeeded")
	}
	db, _ := tg.db(ctx, a)
	var n int
	db.QueryRow(`SELECT count(*) FROM t`).Scan(&n)
	if n != 2 {
		t.Fatalf("a failing script was not rolled back: %d rows", n)
	}
	dbs, err := tg.Databases(ctx)
	if err != nil || len(dbs) != 1 || dbs[0] != a {
		t.Fatalf("Databases = %v, %v", dbs, err)
	}
	for name, loc := range map[string]fleet.Location{"slash": {Server: "a/b", Database: "c"}, "dot": {Server: "..", Database: "c"},
		"empty": {Server: "s", Database: ""}, "space": {Server: "s", Database: "a b"}} {
		if err := tg.CreateDatabase(ctx, loc); !errors.Is(err, fleet.ErrInvalidArgument) {
			t.Errorf("%s: CreateDatabase(%v) = %v, want ErrInvalidArgument", name, loc, err)
		}
	}
	if err := tg.DropDatabase(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := tg.DropDatabase(ctx, a); err != nil {
		t.Fatalf("DropDatabase is not idempotent: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the database file survived the drop")
	}
	if err := tg.ApplySQL(ctx, a, `SELECT 1`); !errors.Is(err, fleet.ErrNoDatabase) {
		t.Fatalf("ApplySQL on a dropped database: %v", err)
	}
	if _, err := tg.CreateShardMap(ctx, "M", fleet.RangeMap, fleet.KeyInt64); err != nil {
		t.Fatal(err)
	}
	if err := tg.DropDatabase(ctx, DefaultShardMapManager); !errors.Is(err, fleet.ErrInvalidArgument) {
		t.Fatalf("dropping the shard map manager: %v", err)
	}
}

// Two handles on one fleet (as two processes would have) serialise their
// shard map writes through the file lock.
func TestTwoHandlesOneFleet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Init(ctx, dir, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, db := range []string{"x", "y"} {
		if err := a.CreateDatabase(ctx, fleet.Location{Server: "s", Database: db}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.CreateShardMap(ctx, "M", fleet.RangeMap, fleet.KeyInt64); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i, h := range []*Target{a, b} {
		wg.Add(1)
		go func(i int, h *Target) {
			defer wg.Done()
			loc := fleet.Location{Server: "s", Database: []string{"x", "y"}[i]}
			if _, err := h.AddShard(ctx, "M", loc); err != nil {
				errs <- err
				return
			}
			for j := 0; j < 5; j++ {
				lo, _ := shardkey.Encode(fleet.KeyInt64, int64(i*100+j*10))
				hi, _ := shardkey.Encode(fleet.KeyInt64, int64(i*100+j*10+10))
				if _, err := h.AddMapping(ctx, "M", loc, lo, hi); err != nil {
					errs <- err
				}
			}
		}(i, h)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	lay, err := b.Observe(ctx, "M")
	if err != nil {
		t.Fatal(err)
	}
	if m := lay.Maps[0]; len(m.Mappings) != 10 || len(m.Differences) != 0 || len(m.Pending) != 0 {
		t.Fatalf("layout after concurrent writers: %d mappings, %v, %v", len(m.Mappings), m.Differences, m.Pending)
	}
}

func TestRegisteredDriver(t *testing.T) {
	dir := demoDir(t)
	tg, err := fleet.Open(context.Background(), fleet.TargetConfig{Name: "prod", Driver: DriverName, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.Name() != "prod" || tg.Driver() != "local" {
		t.Fatalf("target %s/%s", tg.Name(), tg.Driver())
	}
	if err := tg.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := tg.(fleet.ShardMapStore); !ok {
		t.Fatal("the local target is not a ShardMapStore")
	}
	_, err = fleet.Open(context.Background(), fleet.TargetConfig{Name: "x", Driver: DriverName})
	if !errors.Is(err, fleet.ErrNotAFleet) {
		t.Fatalf("no path: %v", err)
	}
}

// Opened for diagnosis or recovery, a fleet whose global shard map has
// overlapping mappings is read, and its observation names the duplicate;
// bounds that do not decode are refused in every mode.
func TestOpenForRecoveryReadsOverlaps(t *testing.T) {
	ctx := context.Background()
	d := demoDir(t)
	k, _ := shardkey.Encode(fleet.KeyInt64, int64(60000))
	rawExec(t, filepath.Join(d, "sql-1", "smm.db"), `UPDATE `+tMappingsGlobal+` SET MaxValue = ? WHERE MaxValue IS NOT NULL`, k)
	for _, mode := range []fleet.OpenMode{fleet.OpenForDiagnosis, fleet.OpenForRecovery} {
		tg, err := OpenFor(ctx, d, mode)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		lay, err := tg.Observe(ctx, "")
		tg.Close()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, diff := range lay.Maps[0].Differences {
			found = found || diff.Kind == fleet.DiffGSMMappingsOverlap
		}
		if !found {
			t.Fatalf("mode %d: no GSMMappingsOverlap in %+v", mode, lay.Maps[0].Differences)
		}
	}
	rawExec(t, filepath.Join(d, "sql-1", "smm.db"), `UPDATE `+tMappingsGlobal+` SET MaxValue = x'0102' WHERE MaxValue IS NOT NULL`)
	if tg, err := OpenFor(ctx, d, fleet.OpenForRecovery); !errors.Is(err, fleet.ErrCorruptMappings) {
		if err == nil {
			tg.Close()
		}
		t.Fatalf("bounds that do not decode, opened for recovery: %v", err)
	}
}
