package test

import (
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The safety fleet: 76,000 customers, so the split at 75000 moves 1,000
// customers and 3,000 orders from customers_1 to customers_2.
const safetyCustomers = 76000

func shardDB(ws, name string) string { return filepath.Join(ws, "fleet", "sql-1", name+".db") }

// writeSQL runs SQL on a database file directly, as a DBA with sqlite3 would;
// the file is created when missing.
func writeSQL(t *testing.T, path, script string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(script); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
}

func catalogLists(t *testing.T, ws, name string) bool {
	t.Helper()
	return scalar(t, openDB(t, filepath.Join(ws, "fleet", "fleet.db")), `SELECT count(*) FROM databases WHERE name = '`+name+`'`) == 1
}

func shardRegistered(t *testing.T, ws, name string) bool {
	t.Helper()
	return scalar(t, openDB(t, shardDB(ws, "smm")), `SELECT count(*) FROM __ShardManagement_ShardsGlobal WHERE DatabaseName = '`+name+`'`) == 1
}

func editPlan(t *testing.T, ws, old, new string) {
	t.Helper()
	p := filepath.Join(ws, "split.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("split.yaml has no %q", old)
	}
	write(t, p, strings.Replace(string(b), old, new, 1))
}

func mustFail(t *testing.T, res result, want string) {
	t.Helper()
	if res.err == nil || killedBy(res.err, syscall.SIGKILL) {
		t.Fatalf("want a refusal, got %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, want) {
		t.Fatalf("stderr does not say %q:\n%s", want, res.stderr)
	}
}

// schemaSQL is the shard schema of examples/shards.
func schemaSQL(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(repoRoot, "examples", "shards", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Issue 8, defect 3: a move deleted the rows a target database (one the
// catalog did not list) already held in the range, and create-shard adopted
// that database silently.
func TestMoveNeverDeletesRowsItDidNotCopy(t *testing.T) {
	tmpl := newDemoWorkspace(t, safetyCustomers, 200)
	before := fleetState(t, tmpl)
	unlisted := func(t *testing.T, ws string) {
		writeSQL(t, shardDB(ws, "customers_2"), schemaSQL(t)+`;
			INSERT INTO customers(id, name) VALUES (80000, 'precious'), (10, 'low');`)
	}
	t.Run("an unlisted database that holds rows is refused", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		unlisted(t, ws)
		mustFail(t, fleetplan(t, ws, nil, "plan", "split.yaml"),
			"split.yaml:15:7: new shard customers_2: database sql-1/customers_2, not listed in the fleet catalog, already exists and holds 2 rows (2 customers)")
		mustFail(t, fleetplan(t, ws, nil, "apply", "split.yaml", "--auto-approve"), "hint: set `adopt: true` on the shard")
		if n := scalar(t, openDB(t, shardDB(ws, "customers_2")), `SELECT count(*) FROM customers WHERE name IN ('precious', 'low')`); n != 2 {
			t.Fatalf("rows of the unlisted database after the refusal = %d, want 2", n)
		}
		if catalogLists(t, ws, "customers_2") || shardRegistered(t, ws, "customers_2") {
			t.Fatal("a refused plan listed or registered customers_2")
		}
		if after := fleetState(t, ws); after.customers["customers_1"] != before.customers["customers_1"] {
			t.Fatalf("customers on customers_1 = %d, want %d", after.customers["customers_1"], before.customers["customers_1"])
		}
	})
	t.Run("adopting it still needs an empty target range", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		unlisted(t, ws)
		editPlan(t, ws, "database: customers_2}", "database: customers_2, adopt: true}")
		mustFail(t, fleetplan(t, ws, nil, "plan", "split.yaml"),
			"split.yaml:19:7: target shard customers_2 already holds 1 rows in [75000, +inf) (1 customers, 0 orders)")
	})
	t.Run("an adopted database keeps its rows outside the range", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		unlisted(t, ws)
		writeSQL(t, shardDB(ws, "customers_2"), `DELETE FROM customers WHERE id = 80000`)
		editPlan(t, ws, "database: customers_2}", "database: customers_2, adopt: true}")
		res := fleetplan(t, ws, nil, "plan", "split.yaml")
		if res.err != nil || !strings.Contains(res.stdout, "ADOPT the existing database as it is, with its 1 rows (1 customers)") {
			t.Fatalf("the preview does not say it adopts customers_2: %v\n%s%s", res.err, res.stdout, res.stderr)
		}
		if res := fleetplan(t, ws, nil, "apply", "split.yaml", "--auto-approve"); res.err != nil {
			t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
		}
		c2 := openDB(t, shardDB(ws, "customers_2"))
		if n := scalar(t, c2, `SELECT count(*) FROM customers WHERE id = 10 AND name = 'low'`); n != 1 {
			t.Fatal("the adopted database lost its own row")
		}
		if n := scalar(t, c2, `SELECT count(*) FROM customers WHERE id >= 75000`); n != 1000 {
			t.Fatalf("customers moved to customers_2 = %d, want 1000", n)
		}
	})
	t.Run("rows written into the target after planning are refused by the step", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		if res := fleetplan(t, ws, nil, "plan", "split.yaml", "--out", "split.plan"); res.err != nil {
			t.Fatalf("plan: %v\n%s", res.err, res.stderr)
		}
		// An empty database, created with the shard schema by hand: taken
		// as it is, no adopt needed.
		writeSQL(t, shardDB(ws, "customers_2"), schemaSQL(t))
		if res := fleetplan(t, ws, nil, "plan", "split.yaml"); res.err != nil || !strings.Contains(res.stdout, "use the existing empty database, not listed in the fleet catalog until now") {
			t.Fatalf("plan over an empty unlisted database: %v\n%s%s", res.err, res.stdout, res.stderr)
		}
		writeSQL(t, shardDB(ws, "customers_2"), `INSERT INTO customers(id, name) VALUES (75050, 'late')`)
		mustFail(t, fleetplan(t, ws, nil, "apply", "split.plan", "--auto-approve"),
			"create shard sql-1/customers_2: database already exists: it holds 1 rows (1 customers) and the plan does not adopt it")
		if n := scalar(t, openDB(t, shardDB(ws, "customers_2")), `SELECT count(*) FROM customers WHERE name = 'late'`); n != 1 {
			t.Fatal("the refused run removed the late row")
		}
		if shardRegistered(t, ws, "customers_2") {
			t.Fatal("the rolled-back run left customers_2 registered")
		}
	})
	t.Run("rows written into the new shard before the move are refused by the move", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=step.shardmap.move-range:exit:1", "FLEETPLAN_FAULTS_I_KNOW=yes"}, "apply", "split.yaml", "--auto-approve")
		if !killedBy(res.err, syscall.SIGKILL) {
			t.Fatalf("apply was not killed: %v\n%s%s", res.err, res.stdout, res.stderr)
		}
		writeSQL(t, shardDB(ws, "customers_2"), `INSERT INTO customers(id, name) VALUES (75050, 'late'), (75051, 'late')`)
		mustFail(t, fleetplan(t, ws, nil, "resume"),
			"target range is not empty: it holds 2 rows in [75000, +inf) that this move did not copy (2 customers)")
		if n := scalar(t, openDB(t, shardDB(ws, "customers_2")), `SELECT count(*) FROM customers WHERE name = 'late'`); n != 2 {
			t.Fatal("the refused move (or its rollback) deleted rows it did not copy")
		}
		if shardRegistered(t, ws, "customers_2") {
			t.Fatal("the rolled-back run left customers_2 registered")
		}
		if after := fleetState(t, ws); after.customers["customers_1"] != before.customers["customers_1"] {
			t.Fatalf("customers on customers_1 = %d, want %d", after.customers["customers_1"], before.customers["customers_1"])
		}
	})
	t.Run("a resume keeps rows the interrupted batch did not copy", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		res := fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=move.verify:exit:2", "FLEETPLAN_FAULTS_I_KNOW=yes"}, "apply", "split.yaml", "--auto-approve")
		if !killedBy(res.err, syscall.SIGKILL) {
			t.Fatalf("apply was not killed: %v\n%s%s", res.err, res.stdout, res.stderr)
		}
		// The interrupted batch is the offline mapping; its copy is on
		// customers_2. Someone changes one copied row there.
		smm := openDB(t, shardDB(ws, "smm"))
		var low []byte
		if err := smm.QueryRow(`SELECT MinValue FROM __ShardManagement_ShardMappingsGlobal WHERE Status = 0`).Scan(&low); err != nil {
			t.Fatalf("no offline mapping after the kill: %v", err)
		}
		id := int64(binary.BigEndian.Uint64(low) ^ 1<<63)
		c2 := openDB(t, shardDB(ws, "customers_2"))
		if n := scalar(t, c2, `SELECT count(*) FROM customers WHERE id = `+itoa(id)); n != 1 {
			t.Fatalf("the interrupted batch's copy of customer %d is not on customers_2", id)
		}
		writeSQL(t, shardDB(ws, "customers_2"), `UPDATE customers SET name = 'changed on the target' WHERE id = `+itoa(id))
		res = fleetplan(t, ws, nil, "resume")
		mustFail(t, res, "that this move did not copy (1 customers)")
		if n := scalar(t, c2, `SELECT count(*) FROM customers WHERE name = 'changed on the target'`); n != 1 {
			t.Fatal("the resume deleted a row the move did not copy")
		}
		if n := scalar(t, c2, `SELECT count(*) FROM orders`); n != 0 {
			t.Fatalf("orders left on customers_2 = %d: the batch's own copy must be taken back", n)
		}
		after := fleetState(t, ws)
		if after.customers["customers_1"] != before.customers["customers_1"] {
			t.Fatalf("customers on customers_1 = %d, want %d", after.customers["customers_1"], before.customers["customers_1"])
		}
		for _, m := range after.mappings {
			if m.db == "customers_2" || m.status != 1 {
				t.Fatalf("after the refusal: mapping %+v", m)
			}
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// schemaInfo is the raw schema info row of CustomerMap in the shard map manager.
func schemaInfo(t *testing.T, ws string) string {
	t.Helper()
	return strings.Join(queryStrings(t, openDB(t, shardDB(ws, "smm")), `SELECT Name || ' ' || SchemaInfo FROM __ShardManagement_ShardedDatabaseSchemaInfosGlobal`), "\n")
}

// Issue 8, defect 4: a plan without `tables:` wiped the stored schema info,
// estimated an empty move and failed at apply.
func TestOmittedTablesUseTheStoredSchemaInfo(t *testing.T) {
	tmpl := newDemoWorkspace(t, safetyCustomers, 200)
	before := fleetState(t, tmpl)
	stored := schemaInfo(t, tmpl)
	if !strings.Contains(stored, "customers") {
		t.Fatalf("the demo stores no schema info: %q", stored)
	}
	noTables := func(t *testing.T, ws, replacement string) {
		editPlan(t, ws, `  tables:
    sharded:
      - {table: customers, key: id}
      - {table: orders, key: customer_id}
    reference: [regions]
`, replacement)
	}
	t.Run("omitted", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		noTables(t, ws, "")
		res := fleetplan(t, ws, nil, "plan", "split.yaml")
		if res.err != nil || strings.Contains(res.stdout, "schema info") || !strings.Contains(res.stdout, "customers_1 -> customers_2, 1,000 customers, 3,000 orders") {
			t.Fatalf("plan without tables: %v\n%s%s", res.err, res.stdout, res.stderr)
		}
		if res := fleetplan(t, ws, nil, "apply", "split.yaml", "--auto-approve"); res.err != nil {
			t.Fatalf("apply: %v\n%s%s", res.err, res.stdout, res.stderr)
		}
		fleetState(t, ws).checkMoved(t, before)
		if got := schemaInfo(t, ws); got != stored {
			t.Fatalf("schema info changed:\n%s\nwant\n%s", got, stored)
		}
	})
	t.Run("no sharded table is refused by plan", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		noTables(t, ws, "  tables: {reference: [regions]}\n")
		mustFail(t, fleetplan(t, ws, nil, "plan", "split.yaml"),
			"split.yaml:19:7: moving [75000, +inf) to customers_2 needs at least one sharded table, but spec.tables lists no sharded table")
		if got := schemaInfo(t, ws); got != stored {
			t.Fatalf("schema info changed by a refused plan:\n%s", got)
		}
	})
	t.Run("a change is a diff of tables", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		noTables(t, ws, "  tables:\n    sharded: [{table: customers, key: id}, {table: orders, key: customer_id}]\n")
		for format, want := range map[string]string{
			"text":     "  ~ schema info of CustomerMap\n      - reference table regions\n",
			"markdown": "! schema info of CustomerMap\n-     reference table regions\n",
			"json":     `"lines": [` + "\n" + `        "- reference table regions"`,
		} {
			res := fleetplan(t, ws, nil, "plan", "split.yaml", "--format", format)
			if res.err != nil || !strings.Contains(res.stdout, want) || strings.Contains(res.stdout, "reference tables)") {
				t.Errorf("plan --format %s: %v, want %q in\n%s%s", format, res.err, want, res.stdout, res.stderr)
			}
		}
	})
}

// Issue 8, defect 9: a create-shard whose schemaFile failed half-way was
// "rolled back" but left its database file and catalog entry behind.
func TestRolledBackCreateShardLeavesNothing(t *testing.T) {
	tmpl := newDemoWorkspace(t, safetyCustomers, 200)
	broken := schemaSQL(t) + "\nCREATE TABLE half (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
	t.Run("schema fails half-way", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		write(t, filepath.Join(ws, "schema.sql"), broken)
		mustFail(t, fleetplan(t, ws, nil, "apply", "split.yaml", "--auto-approve"), "no such table: no_such_table")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if exists(shardDB(ws, "customers_2") + suffix) {
				t.Errorf("customers_2.db%s still exists after the rollback", suffix)
			}
		}
		if catalogLists(t, ws, "customers_2") || shardRegistered(t, ws, "customers_2") {
			t.Fatal("the catalog or the shard map still lists customers_2 after the rollback")
		}
	})
	t.Run("a later step fails: the created database goes, one that was there stays as it was", func(t *testing.T) {
		for name, tc := range map[string]struct {
			before string // SQL of a database file the catalog does not list; "" for none
			adopt  bool
		}{
			"created":               {},
			"adopted with its rows": {before: schemaSQL(t) + `; INSERT INTO customers(id, name) VALUES (10, 'own');`, adopt: true},
			"empty, unlisted":       {before: "PRAGMA user_version = 0;"},
		} {
			ws := copyWorkspace(t, tmpl)
			if tc.before != "" {
				writeSQL(t, shardDB(ws, "customers_2"), tc.before)
			}
			if tc.adopt {
				editPlan(t, ws, "database: customers_2}", "database: customers_2, adopt: true}")
			}
			mustFail(t, fleetplan(t, ws, []string{"FLEETPLAN_FAULTS=move.copy:hard:2", "FLEETPLAN_FAULTS_I_KNOW=yes"}, "apply", "split.yaml", "--auto-approve"), "injected fault")
			if shardRegistered(t, ws, "customers_2") {
				t.Fatalf("%s: customers_2 still registered after the rollback", name)
			}
			if got := exists(shardDB(ws, "customers_2")); got != (tc.before != "") {
				t.Fatalf("%s: customers_2.db exists = %v after the rollback", name, got)
			}
			if catalogLists(t, ws, "customers_2") {
				t.Fatalf("%s: the catalog lists customers_2 after the rollback; it did not before", name)
			}
			if tc.adopt {
				c2 := openDB(t, shardDB(ws, "customers_2"))
				if n := scalar(t, c2, `SELECT count(*) FROM customers`); n != 1 {
					t.Fatalf("the adopted database holds %d customers after the rollback, want its own 1", n)
				}
			}
		}
	})
}
