package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

func TestDescribeSQL(t *testing.T) {
	tg := moverFleet(t, 1)
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "x.db")
	cases := map[string]struct {
		script  string
		tables  string // name(col type, ...) ...
		told    bool
		wantErr string
	}{
		"the demo schema": {script: ShardSchemaSQL, told: true,
			tables: "customers(id INTEGER,region_id INTEGER,name TEXT,email TEXT,balance REAL,created_at TEXT) orders(id INTEGER,customer_id INTEGER,amount REAL,note TEXT,created_at TEXT) regions(id INTEGER,name TEXT)"},
		"empty":           {script: "", told: true},
		"a syntax error":  {script: "CREAT TABLE t(a)", told: true, wantErr: "syntax error"},
		"attach":          {script: "ATTACH DATABASE '" + outside + "' AS x; CREATE TABLE x.t(a);", told: false},
		"vacuum into":     {script: "CREATE TABLE t(a); VACUUM INTO '" + outside + "';", told: false},
		"untyped columns": {script: "CREATE TABLE t(a, b)", told: true, tables: "t(a ,b )"},
		"a size bomb": {script: "CREATE TABLE t(b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000) INSERT INTO t SELECT zeroblob(100000) FROM c;",
			told: true, wantErr: "full"},
		"lifting the bound": {script: "PRAGMA max_page_count = 1000000000; CREATE TABLE t(a)", told: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tables, told, err := tg.DescribeSQL(ctx, tc.script)
			if told != tc.told {
				t.Fatalf("told %t, want %t (err %v)", told, tc.told, err)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ti := range tables {
				var cols []string
				for i, c := range ti.Columns {
					cols = append(cols, c+" "+ti.ColumnTypes[i])
				}
				got = append(got, ti.Name+"("+strings.Join(cols, ",")+")")
			}
			if g := strings.Join(got, " "); g != tc.tables {
				t.Errorf("tables %s\nwant   %s", g, tc.tables)
			}
		})
	}
	if _, err := os.Stat(outside); !os.IsNotExist(err) {
		t.Fatalf("describing a script wrote %s", outside)
	}
}

func TestKeyColumnFits(t *testing.T) {
	tg := &Target{}
	cases := map[string]struct {
		kt   fleet.KeyType
		typ  string
		fits bool
	}{
		"int64 in INTEGER":       {fleet.KeyInt64, "INTEGER", true},
		"int64 in BIGINT":        {fleet.KeyInt64, "bigint", true},
		"int32 in NUMERIC":       {fleet.KeyInt32, "NUMERIC", true},
		"int64 in TEXT":          {fleet.KeyInt64, "TEXT", false},
		"int64 in VARCHAR(20)":   {fleet.KeyInt64, "VARCHAR(20)", false},
		"int64 in REAL":          {fleet.KeyInt64, "REAL", false},
		"int64 in BLOB":          {fleet.KeyInt64, "BLOB", false},
		"int64 untyped":          {fleet.KeyInt64, "", true},
		"timespan in INTEGER":    {fleet.KeyTimeSpan, "INTEGER", true},
		"guid in TEXT":           {fleet.KeyGuid, "TEXT", true},
		"guid in BLOB":           {fleet.KeyGuid, "BLOB", true},
		"guid in INTEGER":        {fleet.KeyGuid, "INTEGER", false},
		"binary in BLOB":         {fleet.KeyBinary, "BLOB", true},
		"binary in REAL":         {fleet.KeyBinary, "DOUBLE", false},
		"datetime in DATETIME":   {fleet.KeyDateTime, "DATETIME", true},
		"datetime in TEXT":       {fleet.KeyDateTime, "TEXT", true},
		"datetime in INTEGER":    {fleet.KeyDateTime, "INTEGER", false},
		"datetimeoffset in TEXT": {fleet.KeyDateTimeOffset, "TEXT", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if fits, want := tg.KeyColumnFits(tc.kt, tc.typ); fits != tc.fits || (!fits && want == "") {
				t.Errorf("fits %t (%q), want %t", fits, want, tc.fits)
			}
		})
	}
}

func TestServers(t *testing.T) {
	tg := moverFleet(t, 1)
	got, err := tg.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "contoso-1,contoso-dr,mi-dr,mi-pool-a,mi-pool-b,mi-prod," + DemoServer; strings.Join(got, ",") != want {
		t.Errorf("servers %v, want %s", got, want)
	}
}
