package sqlserver

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTSQLGolden(t *testing.T) {
	orders := Table{Schema: "sales", Name: "Order]Lines"}
	cols := []string{"customer_id", "order_id", "line", "amount"}
	order := []string{"customer_id", "order_id", "line"}
	golden(t, "tsql.golden", map[string]string{
		"page first, bounded range":   PageQuery(orders, cols, "customer_id", order, true, true, false),
		"page after, bounded range":   PageQuery(orders, cols, "customer_id", order, true, true, true),
		"page after, unbounded above": PageQuery(orders, cols, "customer_id", order, true, false, true),
		"page first, whole table":     PageQuery(orders, cols, "customer_id", order, false, false, false),
		"next bound":                  NextBoundQuery([]KeyedTable{{Table{"dbo", "customers"}, "id"}, {orders, "customer_id"}}, true, true),
		"next bound from -inf":        NextBoundQuery([]KeyedTable{{orders, "customer_id"}}, false, false),
		"existing keys of a page":     ExistingKeysQuery(orders, order),
		"delete rows by key":          DeleteRowsSQL(orders, order, 2),
		"count":                       CountQuery(orders, "customer_id", true, false),
		"checksum":                    ChecksumQuery(orders, cols, "customer_id", true, true),
		"delete chunk":                DeleteChunk(orders, "customer_id", true, true),
		"exists":                      ExistsQuery(Table{Schema: "dbo", Name: "regions"}),
		"tables":                      TablesQuery,
		"primary keys":                PrimaryKeysQuery,
		"foreign keys":                ForeignKeysQuery,
		"key indexes":                 KeyIndexesQuery,
		"key index columns":           KeyIndexColumnsQuery,
		"delete triggers":             DeleteTriggersQuery,
		"set read only":               SetReadOnlySQL("contoso", true),
		"set read write":              SetReadOnlySQL("con]toso", false),
		"add secondary":               AddSecondarySQL("contoso", "contoso-dr"),
		"remove secondary":            RemoveSecondarySQL("contoso", "contoso-dr"),
		"link status":                 LinkStatusQuery,
		"operation status":            OperationStatusQuery,
		"database":                    DatabaseQuery,
		"databases":                   DatabasesQuery,
		"get app lock":                GetAppLockSQL,
		"release app lock":            ReleaseAppLockSQL,
		"store version":               storeVersionSQL,
		"state schema":                EnsureStateSchemaSQL,
		"upsert holder":               UpsertHolderSQL,
		"maps":                        MapsQuery,
		"map by name":                 MapByNameQuery,
		"shards":                      ShardsQuery,
		"mappings":                    MappingsQuery,
		"mapping by id":               MappingByIDQuery,
		"mapping for a range key":     RangeMappingQuery,
		"mapping for a point key":     PointMappingQuery,
		"schema info":                 SchemaInfoQuery,
		"operations log":              LogRowsQuery,
		"local shard map deployed":    LocalDeployedQuery,
		"local shards":                LocalShardsQuery,
		"local mappings":              LocalMappingsQuery,
		"call a library procedure":    callProcSQL(spBulkMappingsGlobalBegin),
		"create database":             CreateDatabaseSQL,
		"drop database":               DropDatabaseSQL,
		"scripts table":               EnsureScriptsSQL,
		"script digest":               ScriptDigestSQL,
		"size":                        SizeQuery,
		"quoted string":               quoteString("it's"),
	})
}

func TestParseTable(t *testing.T) {
	tests := map[string]Table{
		"customers":             {"dbo", "customers"},
		"sales.OrderLines":      {"sales", "OrderLines"},
		"[sales].[Order.Lines]": {"sales", "Order.Lines"},
		"[a]]b].c":              {"a]b", "c"},
	}
	for in, want := range tests {
		got, err := ParseTable(in)
		if err != nil || got != want {
			t.Errorf("ParseTable(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"a.b.c", "[open", "a.", ""} {
		if _, err := ParseTable(bad); err == nil {
			t.Errorf("ParseTable(%q) accepted", bad)
		}
	}
	if got := (Table{"dbo", "x]y"}).String(); got != "[dbo].[x]]y]" {
		t.Errorf("quoting: %s", got)
	}
}

func TestSplitBatches(t *testing.T) {
	tests := map[string]struct {
		script string
		want   []Batch
	}{
		"one batch": {"SELECT 1", []Batch{{"SELECT 1", 1}}},
		"go separates": {"CREATE TABLE t (a int)\nGO\nCREATE VIEW v AS SELECT a FROM t\ngo\n",
			[]Batch{{"CREATE TABLE t (a int)", 1}, {"CREATE VIEW v AS SELECT a FROM t", 3}}},
		"spaces, CRLF and a comment": {"SELECT 1\r\n  Go  -- end of the first\r\nSELECT 2\r\n",
			[]Batch{{"SELECT 1", 1}, {"SELECT 2", 3}}},
		"repeat count": {"INSERT t VALUES (1)\nGO 3\n", []Batch{{"INSERT t VALUES (1)", 1}, {"INSERT t VALUES (1)", 1}, {"INSERT t VALUES (1)", 1}}},
		"go inside a string": {"SELECT 'a\nGO\nb'\nGO\nSELECT 2",
			[]Batch{{"SELECT 'a\nGO\nb'", 1}, {"SELECT 2", 5}}},
		"go inside a nested block comment": {"/* a /* b */\nGO\n*/ SELECT 1\nGO\nSELECT 2",
			[]Batch{{"/* a /* b */\nGO\n*/ SELECT 1", 1}, {"SELECT 2", 5}}},
		"go inside brackets": {"SELECT 1 AS [x\nGO\n]\nGO", []Batch{{"SELECT 1 AS [x\nGO\n]", 1}}},
		"escaped quote":      {"SELECT 'it''s'\nGO\nSELECT 2", []Batch{{"SELECT 'it''s'", 1}, {"SELECT 2", 3}}},
		"line comment quote": {"SELECT 1 -- don't\nGO\nSELECT 2", []Batch{{"SELECT 1 -- don't", 1}, {"SELECT 2", 3}}},
		"not separators":     {"GOTO done\ngo_on:\nSELECT 1", []Batch{{"GOTO done\ngo_on:\nSELECT 1", 1}}},
		"empty batches dropped": {"GO\n\nGO\n\nSELECT 1\nGO\nGO\n",
			[]Batch{{"SELECT 1", 5}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := SplitBatches(tc.script)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
	for _, bad := range []string{"SELECT 'open\nGO\n", "SELECT 1\nGO 0\n", "SELECT [x\nGO"} {
		if _, err := SplitBatches(bad); err == nil {
			t.Errorf("SplitBatches(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "line") {
			t.Errorf("error without a line: %v", err)
		}
	}
}

var (
	execStringRe = regexp.MustCompile(`(?i)\bEXEC(?:UTE)?\s*\(`)
	// execPartRe is what EXECUTE ('string') may concatenate: string
	// literals and variables.
	execPartRe = regexp.MustCompile(`^\s*(?:N?'(?:[^']|'')*'|@\w+)\s*$`)
)

// TestExecStringArguments reads every EXECUTE ('string') of the T-SQL
// golden files as SQL Server parses it: the string may be built only of
// string literals and variables joined with +; a function call there
// (QUOTENAME, CAST) is a syntax error, so such a string is built in a
// variable first.
func TestExecStringArguments(t *testing.T) {
	for _, file := range []string{"tsql.golden", "ownstore.golden", "state.golden", "routing.golden"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, loc := range execStringRe.FindAllStringIndex(text, -1) {
			// The argument: up to the parenthesis that closes it, outside strings.
			depth, end, inString := 1, -1, false
			for i := loc[1]; i < len(text) && end < 0; i++ {
				switch c := text[i]; {
				case c == '\'':
					inString = !inString
				case inString:
				case c == '(':
					depth++
				case c == ')':
					if depth--; depth == 0 {
						end = i
					}
				}
			}
			if end < 0 {
				t.Fatalf("%s: EXEC( at offset %d is not closed", file, loc[0])
			}
			arg := text[loc[1]:end]
			for _, part := range splitConcat(arg) {
				if !execPartRe.MatchString(part) {
					t.Errorf("%s: EXEC(%s) concatenates %q; only string literals and variables may be", file, arg, strings.TrimSpace(part))
				}
			}
		}
	}
}

// splitConcat splits a T-SQL expression on the + signs outside strings.
func splitConcat(expr string) []string {
	var parts []string
	start, inString := 0, false
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\'':
			inString = !inString
		case c == '+' && !inString:
			parts = append(parts, expr[start:i])
			start = i + 1
		}
	}
	return append(parts, expr[start:])
}
