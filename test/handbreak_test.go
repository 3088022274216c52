package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keySQL is an int64 sharding key as the shard maps store it, as an SQLite
// BLOB literal.
func keySQL(k int64) string { return fmt.Sprintf("x'%X'", encodeInt64(k)) }

// smmFile is the shard map manager database of a recovery workspace.
func smmFile(ws string) string { return shardFile(ws, "sql-1", "smm") }

// shardIDSQL selects the GSM shard id of a database of the demo fleet.
func shardIDSQL(db string) string {
	return `(SELECT ShardId FROM __ShardManagement_ShardsGlobal WHERE DatabaseName = '` + db + `')`
}

// addGSMMapping inserts a mapping row straight into the global shard map
// (max < 0: +inf), the way a hand edit or a bad restore leaves one.
func addGSMMapping(t *testing.T, ws, id, db string, min, max int64) {
	t.Helper()
	hi := "NULL"
	if max >= 0 {
		hi = keySQL(max)
	}
	sqlExec(t, smmFile(ws), `INSERT INTO __ShardManagement_ShardMappingsGlobal(MappingId, Readable, ShardId, ShardMapId, MinValue, MaxValue, Status)
		SELECT '`+id+`', 1, `+shardIDSQL(db)+`, ShardMapId, `+keySQL(min)+`, `+hi+`, 1 FROM __ShardManagement_ShardMapsGlobal`)
}

// snapshotFiles reads every SQLite file of a workspace's fleet, so a test
// can check that a refusal changed nothing.
func snapshotFiles(t *testing.T, ws string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, db := range []string{"smm", "customers_0", "customers_1", "customers_2"} {
		d := openDB(t, shardFile(ws, "sql-1", db))
		rows := queryStrings(t, d, `SELECT group_concat(r, '|') FROM (SELECT quote(MappingId) || quote(MinValue) || quote(MaxValue) || quote(Status) AS r FROM `+
			map[bool]string{true: "__ShardManagement_ShardMappingsGlobal", false: "__ShardManagement_ShardMappingsLocal"}[db == "smm"]+` ORDER BY r)`)
		out[db] = strings.Join(rows, "\n")
		if db != "smm" {
			out[db+" rows"] = strings.Join(queryStrings(t, d, `SELECT count(*) || '/' || total(id) FROM customers`), "")
		}
	}
	return out
}

// Shard maps broken by hand with SQL, in ways the simulator does not break
// them: doctor finds each break, the plan it writes repairs it, doctor is
// clean afterwards and every row is on the shard its key routes to.
func TestRecoveryHandBreaks(t *testing.T) {
	tmpl, _ := newRecoveryWorkspace(t)
	cases := []struct {
		name  string
		brk   func(t *testing.T, ws string)
		extra int      // customers the break adds
		want  []string // what doctor must say
	}{
		{name: "duplicated GSM mapping on another shard", brk: func(t *testing.T, ws string) {
			// [60000, 80000) to customers_2 overlaps customers_1's [50000,
			// 75000) and customers_2's own [75000, +inf); no LSM holds it.
			addGSMMapping(t, ws, "11111111-0000-4000-8000-000000000001", "customers_2", 60000, 80000)
		}, want: []string{"GSMMappingsOverlap sql-1/customers_2 [60000, 75000)", "GSMMappingsOverlap sql-1/customers_2 [75000, 80000)",
			"resolve keepShardMapping on sql-1/customers_2 (no local shard map holds the duplicated mapping [60000, 80000)",
			"MappingOverlapsOtherShard sql-1/customers_1 [60000, 75000)", "resolved by removing the duplicated mapping on sql-1/customers_2"}},
		{name: "duplicated GSM mapping on the same shard", brk: func(t *testing.T, ws string) {
			addGSMMapping(t, ws, "11111111-0000-4000-8000-000000000002", "customers_1", 60000, 70000)
		}, want: []string{"GSMMappingsOverlap sql-1/customers_1 [60000, 70000)", "resolve keepShardMapping on sql-1/customers_1"}},
		{name: "duplicated GSM mappings on several shards", brk: func(t *testing.T, ws string) {
			// One across customers_0 and customers_1 held by customers_0,
			// one to +inf held by customers_1 over customers_2's keys.
			addGSMMapping(t, ws, "11111111-0000-4000-8000-000000000003", "customers_0", 40000, 60000)
			addGSMMapping(t, ws, "11111111-0000-4000-8000-000000000004", "customers_1", 100000, -1)
		}, want: []string{"GSMMappingsOverlap sql-1/customers_0 [40000, 50000)", "GSMMappingsOverlap sql-1/customers_0 [50000, 60000)",
			"GSMMappingsOverlap sql-1/customers_1 [100000, +inf)", "resolve keepShardMapping on sql-1/customers_0", "resolve keepShardMapping on sql-1/customers_1"}},
		{name: "duplicated GSM mapping whose shard holds rows of it", brk: func(t *testing.T, ws string) {
			// The duplicate sent customer 60001 to customers_2, and it was
			// written there: after the duplicate goes it is moved home.
			addGSMMapping(t, ws, "11111111-0000-4000-8000-000000000005", "customers_2", 60000, 70000)
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `DELETE FROM orders WHERE customer_id = 60001`)
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `ATTACH '`+shardFile(ws, "sql-1", "customers_2")+`' AS c2;
				INSERT INTO c2.customers SELECT * FROM customers WHERE id = 60001; DELETE FROM customers WHERE id = 60001`)
		}, want: []string{"1 row of [60000, 70000) here then routes to another shard: moveMisplacedRows moves it"}},
		{name: "deleted GSM mapping row", brk: func(t *testing.T, ws string) {
			sqlExec(t, smmFile(ws), `DELETE FROM __ShardManagement_ShardMappingsGlobal WHERE ShardId = `+shardIDSQL("customers_1"))
		}, want: []string{"MappingInShardOnly sql-1/customers_1 [50000, 75000)", "resolve keepShardMapping on sql-1/customers_1"}},
		{name: "deleted LSM mapping rows on two shards", brk: func(t *testing.T, ws string) {
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `DELETE FROM __ShardManagement_ShardMappingsLocal`)
			sqlExec(t, shardFile(ws, "sql-1", "customers_2"), `DELETE FROM __ShardManagement_ShardMappingsLocal`)
		}, want: []string{"MappingInShardMapOnly sql-1/customers_1 [50000, 75000)", "MappingInShardMapOnly sql-1/customers_2 [75000, +inf)",
			"resolve keepShardMapMapping on sql-1/customers_1", "resolve keepShardMapMapping on sql-1/customers_2"}},
		{name: "LSM mapping with other bounds and an offline one", brk: func(t *testing.T, ws string) {
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `UPDATE __ShardManagement_ShardMappingsLocal SET MaxValue = `+keySQL(80000))
			sqlExec(t, shardFile(ws, "sql-1", "customers_0"), `UPDATE __ShardManagement_ShardMappingsLocal SET Status = 0`)
		}, want: []string{"MappingMismatch sql-1/customers_1 [50000, 75000)", "MappingMismatch sql-1/customers_0 [0, 50000)",
			"MappingOverlapsOtherShard sql-1/customers_1 [75000, 80000)", "resolve keepShardMapMapping on sql-1/customers_1"}},
		{name: "rows in the wrong shard, several shards", brk: func(t *testing.T, ws string) {
			// Customer 60005 moved by hand to customers_2 (its only copy),
			// customer 20 copied to customers_1 and customers_2 (the same row).
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `ATTACH '`+shardFile(ws, "sql-1", "customers_2")+`' AS c2;
				INSERT INTO c2.customers SELECT * FROM customers WHERE id = 60005; INSERT INTO c2.orders SELECT * FROM orders WHERE customer_id = 60005;
				DELETE FROM orders WHERE customer_id = 60005; DELETE FROM customers WHERE id = 60005`)
			for _, db := range []string{"customers_1", "customers_2"} {
				sqlExec(t, shardFile(ws, "sql-1", db), `ATTACH '`+shardFile(ws, "sql-1", "customers_0")+`' AS c0;
					INSERT INTO customers SELECT * FROM c0.customers WHERE id = 20`)
			}
		}, want: []string{"RowsMisplaced sql-1/customers_2 [60005, 60006)", "RowsMisplaced sql-1/customers_1 [20, 21)", "RowsMisplaced sql-1/customers_2 [20, 21)",
			"1 row of customers with key 60005 is on sql-1/customers_2, but the global shard map sends this key to sql-1/customers_1"}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			tc.brk(t, ws)
			res := fleetplan(t, ws, nil, "doctor")
			for _, w := range tc.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("doctor does not say %q:\n%s%s", w, res.stdout, res.stderr)
				}
			}
			doctorFix(t, ws)
			routable(t, ws, recoveryCustomers+tc.extra)
		})
	}
}

// What doctor cannot decide from the shard maps and the rows it refuses and
// explains, writes no plan for, and changes nothing; every other plan kind
// is refused on a global shard map with overlapping mappings, pointing at
// doctor.
func TestRecoveryHandBreaksRefused(t *testing.T) {
	tmpl, _ := newRecoveryWorkspace(t)
	cases := []struct {
		name string
		brk  func(t *testing.T, ws string)
		want []string
	}{
		{name: "duplicated mapping in both maps", brk: func(t *testing.T, ws string) {
			// Both customers_1 and customers_2 hold [60000, 70000) in their
			// local shard maps: no side is the duplicate.
			id := "11111111-0000-4000-8000-000000000006"
			addGSMMapping(t, ws, id, "customers_2", 60000, 70000)
			sqlExec(t, shardFile(ws, "sql-1", "customers_2"), `INSERT INTO __ShardManagement_ShardMappingsLocal(MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status)
				SELECT '`+id+`', ShardId, ShardMapId, `+keySQL(60000)+`, `+keySQL(70000)+`, 1 FROM __ShardManagement_ShardsLocal`)
		}, want: []string{"GSMMappingsOverlap sql-1/customers_2 [60000, 70000)",
			"not planned: the local shard maps of both shards hold their mapping of [60000, 70000), so doctor cannot tell which shard the keys belong to"}},
		{name: "the same key on two shards with other values", brk: func(t *testing.T, ws string) {
			// customers_0 holds another version of customer 60010 (which
			// customers_1 holds), and the only copy of customer 60020.
			sqlExec(t, shardFile(ws, "sql-1", "customers_1"), `ATTACH '`+shardFile(ws, "sql-1", "customers_0")+`' AS c0;
				INSERT INTO c0.customers SELECT * FROM customers WHERE id IN (60010, 60020); UPDATE c0.customers SET name = 'edited' WHERE id = 60010;
				DELETE FROM orders WHERE customer_id = 60020; DELETE FROM customers WHERE id = 60020`)
		}, want: []string{"RowsDiffer sql-1/customers_0 [60010, 60011): 1 row of customers with key 60010 on sql-1/customers_0 differs from the row with the same primary key on sql-1/customers_1, where its key routes: doctor cannot tell which copy is right",
			"fix: not planned while rows differ between shards (see RowsDiffer)"}},
		{name: "rows with keys no mapping holds", brk: func(t *testing.T, ws string) {
			sqlExec(t, shardFile(ws, "sql-1", "customers_0"), `INSERT INTO customers(id, region_id, name) VALUES(-5, 1, 'nowhere'), (-3, 1, 'nowhere')`)
		}, want: []string{"RowsUnmapped sql-1/customers_0 [-5, -2)", "2 rows of customers with keys in [-5, -2) are on sql-1/customers_0, but no mapping holds these keys"}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			tc.brk(t, ws)
			before := snapshotFiles(t, ws)
			res := fleetplan(t, ws, nil, "doctor", "--write-plan", "fix.yaml")
			if exitCode(res) != 2 {
				t.Fatalf("doctor: exit %d, want 2\n%s%s", exitCode(res), res.stdout, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("doctor does not say %q:\n%s", w, res.stdout)
				}
			}
			if _, err := os.Stat(filepath.Join(ws, "fix.yaml")); err == nil {
				plan, _ := os.ReadFile(filepath.Join(ws, "fix.yaml"))
				t.Errorf("doctor wrote a plan for what it cannot decide:\n%s", plan)
			}
			if after := snapshotFiles(t, ws); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("doctor changed the fleet:\n%v\nbefore:\n%v", after, before)
			}
		})
	}
	t.Run("other plans refused on overlapping mappings", func(t *testing.T) {
		ws := copyWorkspace(t, tmpl)
		addGSMMapping(t, ws, "11111111-0000-4000-8000-000000000007", "customers_2", 60000, 70000)
		before := snapshotFiles(t, ws)
		for _, args := range [][]string{{"plan", "split.yaml"}, {"apply", "split.yaml", "--auto-approve"}, {"route", "60001", "--shard-map", "CustomerMap"}} {
			res := fleetplan(t, ws, nil, args...)
			out := res.stdout + res.stderr
			if exitCode(res) != 1 || !strings.Contains(out, "mappings [50000, 75000) and [60000, 70000) overlap") ||
				!strings.Contains(out, "hint: no plan but a shard map recovery runs on it: `fleetplan doctor --write-plan fix.yaml`") {
				t.Errorf("%s on overlapping mappings: exit %d\n%s", args[0], exitCode(res), out)
			}
		}
		if after := snapshotFiles(t, ws); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("a refused plan changed the fleet:\n%v\nbefore:\n%v", after, before)
		}
		doctorFix(t, ws)
		routable(t, ws, recoveryCustomers)
	})
}
