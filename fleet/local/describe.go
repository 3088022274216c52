package local

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"modernc.org/sqlite"
)

var (
	_ fleet.SchemaDescriber  = (*Target)(nil)
	_ fleet.KeyColumnChecker = (*Target)(nil)
	_ fleet.ServerLister     = (*Target)(nil)
)

// describeTimeout bounds how long a schema script may run while it is
// described at plan time.
const describeTimeout = 10 * time.Second

// sqliteLimitAttached is SQLITE_LIMIT_ATTACHED.
const sqliteLimitAttached = 7

// notDescribed matches what the scratch database must not run: ATTACH (a
// new file) and VACUUM INTO could write outside it, and a script that lifts
// the size bound could fill memory.
var notDescribed = regexp.MustCompile(`(?i)\b(attach|vacuum|max_page_count)\b`)

// describeMaxPages bounds the scratch database (4 KiB pages: 64 MiB).
const describeMaxPages = 16384

// DescribeSQL implements fleet.SchemaDescriber: the script runs in a
// private in-memory database that is thrown away, so the fleet and the disk
// stay untouched; it may take describeTimeout and 64 MiB. A script that could
// write a file (ATTACH, VACUUM INTO) or lift that bound is not run: ok is
// false then.
func (t *Target) DescribeSQL(ctx context.Context, script string) ([]fleet.TableInfo, bool, error) {
	if notDescribed.MatchString(script) {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	db, err := sql.Open("sqlite", "file:describe?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, false, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	if _, err := sqlite.Limit(conn, sqliteLimitAttached, 0); err != nil {
		return nil, false, err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", describeMaxPages)); err != nil {
		return nil, false, err
	}
	loc := fleet.Location{Server: "(schema file)", Database: "(scratch)"}
	if _, err := conn.ExecContext(ctx, script); err != nil {
		return nil, true, sqlErr("run the schema script", loc, err)
	}
	tables, err := tablesOf(ctx, conn, loc)
	if err != nil {
		return nil, true, err
	}
	return tables, true, nil
}

// KeyColumnFits implements fleet.KeyColumnChecker with SQLite's type
// affinity rules: integer keys (int32, int64, timespan ticks) are compared as
// integers and need an INTEGER or NUMERIC column; the other key types are
// stored as text or blobs and cannot live in a numeric column. A column
// without a declared type takes anything.
func (t *Target) KeyColumnFits(kt fleet.KeyType, columnType string) (bool, string) {
	aff := affinity(columnType)
	if aff == "" {
		return true, ""
	}
	switch kt {
	case fleet.KeyInt32, fleet.KeyInt64, fleet.KeyTimeSpan:
		return aff == "INTEGER" || aff == "NUMERIC", "an INTEGER column"
	case fleet.KeyDateTime, fleet.KeyDateTimeOffset:
		return aff == "TEXT" || aff == "NUMERIC" || aff == "BLOB", "a TEXT column"
	}
	return aff == "TEXT" || aff == "BLOB", "a TEXT or BLOB column"
}

// affinity is SQLite's type affinity of a declared column type
// (https://sqlite.org/datatype3.html, 3.1); "" for no declared type.
func affinity(declared string) string {
	d := strings.ToUpper(declared)
	switch {
	case strings.TrimSpace(d) == "":
		return ""
	case strings.Contains(d, "INT"):
		return "INTEGER"
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return "TEXT"
	case strings.Contains(d, "BLOB"):
		return "BLOB"
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"):
		return "REAL"
	}
	return "NUMERIC"
}

// Servers implements fleet.ServerLister: the catalog's servers.
func (t *Target) Servers(ctx context.Context) ([]string, error) {
	rows, err := t.catalog.QueryContext(ctx, `SELECT name FROM servers ORDER BY name`)
	if err != nil {
		return nil, &fleet.Error{Op: "read catalog", Target: t.dir, Err: err}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
