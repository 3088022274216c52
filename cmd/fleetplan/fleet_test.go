package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func queryInt(t *testing.T, path, q string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// The full-size demo, checked the way an operator with sqlite3 would.
func TestFleetInitDemoFullSize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "f")
	code, out, errOut := runCLI(t, "fleet", "init", "--demo", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "customers_0: 50000 customers, 150000 orders") || !strings.Contains(out, "customers_1: 50000 customers, 150000 orders") {
		t.Fatalf("summary:\n%s", out)
	}
	smm := filepath.Join(dir, "sql-1", "smm.db")
	var boundary string
	db, err := sql.Open("sqlite", "file:"+smm+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.QueryRow(`SELECT hex(m.MaxValue) FROM __ShardManagement_ShardMappingsGlobal m
		JOIN __ShardManagement_ShardsGlobal s ON s.ShardId = m.ShardId WHERE s.DatabaseName = 'customers_0'`).Scan(&boundary)
	if err != nil || boundary != "800000000000C350" {
		t.Fatalf("boundary stored as %q (%v), want 800000000000C350", boundary, err)
	}
	cols := queryInt(t, smm, `SELECT count(*) FROM pragma_table_info('__ShardManagement_ShardMappingsGlobal')
		WHERE name IN ('MappingId','Readable','ShardId','ShardMapId','OperationId','MinValue','MaxValue','Status','LockOwnerId')`)
	if cols != 9 {
		t.Fatalf("ShardMappingsGlobal has %d of the library's 9 columns", cols)
	}
	shard := func(db string) string { return filepath.Join(dir, "sql-1", db+".db") }
	checks := map[string]struct {
		path, q string
		want    int64
	}{
		"customers_0 customers":     {shard("customers_0"), `SELECT count(*) FROM customers`, 50000},
		"customers_0 orders":        {shard("customers_0"), `SELECT count(*) FROM orders`, 150000},
		"customers_1 customers":     {shard("customers_1"), `SELECT count(*) FROM customers`, 50000},
		"customers_1 orders":        {shard("customers_1"), `SELECT count(*) FROM orders`, 150000},
		"customers_0 routed rows":   {shard("customers_0"), `SELECT count(*) FROM customers WHERE id < 0 OR id >= 50000`, 0},
		"customers_0 routed orders": {shard("customers_0"), `SELECT count(*) FROM orders WHERE customer_id < 0 OR customer_id >= 50000`, 0},
		"customers_1 routed rows":   {shard("customers_1"), `SELECT count(*) FROM customers WHERE id < 50000`, 0},
		"customers_1 routed orders": {shard("customers_1"), `SELECT count(*) FROM orders WHERE customer_id < 50000`, 0},
		"regions":                   {shard("customers_1"), `SELECT count(*) FROM regions`, 8},
		"orders index":              {shard("customers_0"), `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'orders_customer_id'`, 1},
	}
	for name, c := range checks {
		if got := queryInt(t, c.path, c.q); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
	code, out49999, _ := runCLI(t, "route", "49999", "--fleet", dir, "--shard-map", "CustomerMap")
	code2, out50000, _ := runCLI(t, "route", "50000", "--fleet", dir, "--shard-map", "CustomerMap")
	if code != 0 || code2 != 0 || !strings.Contains(out49999, "customers_0") || !strings.Contains(out50000, "customers_1") {
		t.Fatalf("route 49999 -> %q, route 50000 -> %q", out49999, out50000)
	}
	if !strings.Contains(out50000, shard("customers_1")) {
		t.Fatalf("route does not print the database file:\n%s", out50000)
	}
}

func TestFleetInitRefusals(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "f")
	if c, _, e := runCLI(t, "fleet", "init", existing); c != 0 {
		t.Fatal(e)
	}
	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, "notes.txt"), []byte("x"), 0o644)
	cases := map[string]struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		"existing fleet":          {[]string{"fleet", "init", existing}, 1, "already holds a fleet"},
		"existing fleet, --force": {[]string{"fleet", "init", "--force", "--demo", "--customers", "10", existing}, 0, ""},
		"non-empty directory":     {[]string{"fleet", "init", junk}, 1, "not empty"},
		"force does not wipe":     {[]string{"fleet", "init", "--force", junk}, 1, "not a fleet"},
		"customers without demo":  {[]string{"fleet", "init", "--customers", "5", filepath.Join(t.TempDir(), "g")}, 1, "only apply with --demo"},
		"negative customers":      {[]string{"fleet", "init", "--demo", "--customers", "-1", filepath.Join(t.TempDir(), "h")}, 1, "0 or more"},
		"bad manager":             {[]string{"fleet", "init", "--shard-map-manager", "smm", filepath.Join(t.TempDir(), "i")}, 1, "SERVER/DATABASE"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.wantCode, errOut, tc.wantErr)
			}
			if tc.wantCode != 0 && !strings.Contains(errOut, "hint:") && !strings.Contains(tc.wantErr, "0 or more") {
				t.Fatalf("no hint in %q", errOut)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(junk, "notes.txt")); err != nil {
		t.Fatal("--force deleted a directory that was not a fleet")
	}
}

func demoFleet(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "f")
	if code, _, errOut := runCLI(t, "fleet", "init", "--demo", "--customers", "100", dir); code != 0 {
		t.Fatal(errOut)
	}
	return dir
}

func TestRoute(t *testing.T) {
	dir := demoFleet(t)
	// Take [50000, +inf) offline.
	ctx := context.Background()
	tg, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := shardkey.EncodeText(2, "50000")
	mp, err := tg.MappingForKey(ctx, local.DemoShardMap, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.SetMappingOnline(ctx, local.DemoShardMap, mp.ID, false); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	cases := map[string]struct {
		args             []string
		code             int
		wantOut, wantErr string
	}{
		"online":      {[]string{"route", "0", "--fleet", dir}, 0, "customers_0", ""},
		"offline":     {[]string{"route", "123456", "--fleet", dir}, 3, "OFFLINE", "offline"},
		"json":        {[]string{"route", "7", "--fleet", dir, "--format", "json"}, 0, `"database": "customers_0"`, ""},
		"unmapped":    {[]string{"route", "--fleet", dir, "--", "-5"}, 1, "", "not mapped"},
		"bad key":     {[]string{"route", "abc", "--fleet", dir}, 1, "", "int64"},
		"unknown map": {[]string{"route", "1", "--fleet", dir, "--shard-map", "Nope"}, 1, "", "does not exist"},
		"not a fleet": {[]string{"route", "1", "--fleet", t.TempDir()}, 1, "", "fleet init"},
		"both flags":  {[]string{"route", "1", "--fleet", dir, "--target", "x"}, 1, "", "exclude each other"},
		"bad format":  {[]string{"route", "1", "--fleet", dir, "--format", "xml"}, 1, "", "text or json"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	dir := demoFleet(t)
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "fleetplan.yaml")
	os.WriteFile(cfg, []byte("targets:\n  local:\n    driver: local\n    path: "+dir+"\n"), 0o644)
	code, out, errOut := runCLI(t, "layout", "--config", cfg, "--target", "local", "--shard-map", "CustomerMap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Shard map CustomerMap (range, int64)", "[0, 50000)", "[50000, +inf)", "sql-1/customers_0", "customers(id), orders(customer_id)", "Differences (GSM vs LSM): none"} {
		if !strings.Contains(out, want) {
			t.Errorf("layout lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCLI(t, "layout", "--config", cfg, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v views.LayoutJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Maps) != 1 || len(v.Maps[0].Mappings) != 2 || v.Maps[0].Mappings[0].High != "50000" ||
		*v.Maps[0].Mappings[0].MaxValue != "0x800000000000C350" || v.Maps[0].Mappings[1].MaxValue != nil ||
		v.Maps[0].Shards[0].RowCounts["customers"] != 100 || !strings.HasPrefix(v.Fingerprint, "sha256:") {
		t.Fatalf("json layout %+v", v)
	}
	cases := map[string]struct {
		args    []string
		wantErr string
	}{
		"unknown target": {[]string{"layout", "--config", cfg, "--target", "nope"}, "no target"},
		"unknown map":    {[]string{"layout", "--fleet", dir, "--shard-map", "Nope"}, "does not exist"},
		"missing dir":    {[]string{"layout", "--fleet", filepath.Join(cfgDir, "none")}, "does not exist"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q, want %q", code, errOut, tc.wantErr)
			}
		})
	}
}
