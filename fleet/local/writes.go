package local

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

var (
	_ fleet.WriteTracker   = (*Target)(nil)
	_ fleet.DatabaseKeeper = (*Target)(nil)
)

// baselineDDL holds where a database stood when traffic last switched to it:
// one row per database, written in the switch's own catalog transaction.
// created_at ties the row to one life of the database, so a database dropped
// and created again under the same name is not compared with its
// predecessor.
const baselineDDL = `
CREATE TABLE IF NOT EXISTS switch_baselines(
  server     TEXT NOT NULL COLLATE NOCASE,
  name       TEXT NOT NULL COLLATE NOCASE,
  created_at TEXT NOT NULL,
  profile    TEXT NOT NULL,
  endpoint   TEXT NOT NULL,
  at         TEXT NOT NULL,
  tables     TEXT NOT NULL,
  PRIMARY KEY(server, name)
);
CREATE TABLE IF NOT EXISTS stale_copies(
  server TEXT NOT NULL COLLATE NOCASE,
  name   TEXT NOT NULL COLLATE NOCASE,
  since  TEXT NOT NULL,
  PRIMARY KEY(server, name)
);
`

// markStale records that the disconnected copies of origin may miss its
// writes from now on (it is read-write after they were cut off).
func markStale(ctx context.Context, tx *sql.Tx, origin fleet.Location) error {
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO stale_copies(server, name, since)
		SELECT c.server, c.name, ? FROM database_control c
		WHERE c.origin_server = ? AND c.origin_db = ?
		  AND NOT EXISTS (SELECT 1 FROM replication_links l WHERE l.partner_server = c.server AND l.partner_db = c.name)`,
		nowText(), origin.Server, origin.Database)
	return err
}

// tableSum is a table's row count and an order-independent checksum of its
// rows (the sum of a 64-bit hash of every row, so equal multisets of rows
// give equal sums whatever their order).
type tableSum struct {
	Rows int64  `json:"rows"`
	Sum  uint64 `json:"sum"`
}

// contents sums every table of a database (SQLite's own tables left out).
func (t *Target) contents(ctx context.Context, loc fleet.Location) (map[string]tableSum, error) {
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, err
	}
	tables, err := queryNames(ctx, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, sqlErr("read tables", loc, err)
	}
	out := make(map[string]tableSum, len(tables))
	for _, table := range tables {
		s, err := sumTable(ctx, db, table)
		if err != nil {
			return nil, sqlErr("checksum table "+table, loc, err)
		}
		out[table] = s
	}
	return out, nil
}

func queryNames(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func sumTable(ctx context.Context, db *sql.DB, table string) (tableSum, error) {
	var s tableSum
	rows, err := db.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(table, `"`, `""`)+`"`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return s, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var buf [8]byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return s, err
		}
		h := fnv.New64a()
		for _, v := range vals {
			switch x := v.(type) {
			case nil:
				h.Write([]byte{0})
			case int64:
				h.Write([]byte{1})
				binary.LittleEndian.PutUint64(buf[:], uint64(x))
				h.Write(buf[:])
			case float64:
				h.Write([]byte{2})
				binary.LittleEndian.PutUint64(buf[:], math.Float64bits(x))
				h.Write(buf[:])
			case string:
				h.Write([]byte{3})
				binary.LittleEndian.PutUint64(buf[:], uint64(len(x)))
				h.Write(buf[:])
				h.Write([]byte(x))
			case []byte:
				h.Write([]byte{4})
				binary.LittleEndian.PutUint64(buf[:], uint64(len(x)))
				h.Write(buf[:])
				h.Write(x)
			case time.Time:
				h.Write([]byte{5})
				h.Write([]byte(x.UTC().Format(time.RFC3339Nano)))
			default:
				fmt.Fprintf(h, "\x06%T:%v", x, x)
			}
		}
		s.Rows++
		s.Sum += h.Sum64()
	}
	return s, rows.Err()
}

// recordBaseline writes where loc stands now as its switch baseline, inside
// the switch's transaction.
func recordBaseline(ctx context.Context, tx *sql.Tx, loc fleet.Location, profile, endpoint string, sums map[string]tableSum) error {
	b, err := json.Marshal(sums)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO switch_baselines(server, name, created_at, profile, endpoint, at, tables)
		SELECT server, name, created_at, ?, ?, ?, ? FROM databases WHERE server = ? AND name = ?
		ON CONFLICT(server, name) DO UPDATE SET created_at = excluded.created_at, profile = excluded.profile,
		  endpoint = excluded.endpoint, at = excluded.at, tables = excluded.tables`,
		profile, endpoint, nowText(), string(b), loc.Server, loc.Database)
	return err
}

// WritesSinceSwitch implements fleet.WriteTracker.
func (t *Target) WritesSinceSwitch(ctx context.Context, loc fleet.Location) ([]fleet.TableChange, bool, error) {
	if err := t.cpInit(ctx); err != nil {
		return nil, false, err
	}
	c, _, err := t.resolve(ctx, loc)
	if err != nil {
		return nil, false, err
	}
	var raw string
	err = t.catalog.QueryRowContext(ctx, `SELECT b.tables FROM switch_baselines b JOIN databases d
		ON d.server = b.server AND d.name = b.name AND d.created_at = b.created_at
		WHERE b.server = ? AND b.name = ?`, c.Server, c.Database).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, cpError("read catalog", t.dir, err)
	}
	var then map[string]tableSum
	if err := json.Unmarshal([]byte(raw), &then); err != nil {
		return nil, false, cpError("read switch baseline", c.String(), err)
	}
	now, err := t.contents(ctx, c)
	if errors.Is(err, fleet.ErrNoDatabase) {
		// Listed, tracked, but its file is not where it belongs (a keep cut
		// short between moving the file and the catalog): nothing can be
		// told, so nothing may be dropped without being kept.
		var rows int64
		for _, s := range then {
			rows += s.Rows
		}
		return []fleet.TableChange{{Table: "(all tables: file " + t.pathOf(c) + " is missing)", RowsThen: rows, RowsNow: -1}}, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return diffContents(then, now), true, nil
}

// diffContents lists the tables whose rows differ, by name.
func diffContents(then, now map[string]tableSum) []fleet.TableChange {
	names := map[string]bool{}
	for n := range then {
		names[n] = true
	}
	for n := range now {
		names[n] = true
	}
	var out []fleet.TableChange
	for n := range names {
		a, hadA := then[n]
		b, hasB := now[n]
		if hadA && hasB && a == b {
			continue
		}
		c := fleet.TableChange{Table: n, RowsThen: -1, RowsNow: -1}
		if hadA {
			c.RowsThen = a.Rows
		}
		if hasB {
			c.RowsNow = b.Rows
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}

// KeepDatabase implements fleet.DatabaseKeeper: the file is renamed beside
// the old one and the catalog entry follows it.
func (t *Target) KeepDatabase(ctx context.Context, loc fleet.Location, as string) (string, error) {
	const op = "keep database"
	if err := t.cpInit(ctx); err != nil {
		return "", err
	}
	kept := fleet.Location{Server: loc.Server, Database: as}
	if err := checkLocation(kept); err != nil {
		return "", &fleet.Error{Op: op, Target: loc.String(), Err: err}
	}
	c, p, err := t.resolve(ctx, loc)
	if errors.Is(err, fleet.ErrNoDatabase) {
		if kc, kp, kerr := t.resolve(ctx, kept); kerr == nil {
			return where(kc, kp), nil // kept already
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	kept.Server = c.Server
	kp := t.pathOf(kept)
	if _, _, err := t.resolve(ctx, kept); err == nil {
		return "", &fleet.Error{Op: op, Target: c.String(), Err: fmt.Errorf("%w: database %s exists", fleet.ErrConflict, kept),
			Hint: "drop or rename it first"}
	}
	var links, slots int
	if err := t.catalog.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM replication_links WHERE (primary_server = ?1 AND primary_db = ?2) OR (partner_server = ?1 AND partner_db = ?2)),
		(SELECT count(*) FROM app_slots WHERE server = ?1 AND database = ?2)`, c.Server, c.Database).Scan(&links, &slots); err != nil {
		return "", cpError(op, c.String(), err)
	}
	if links > 0 || slots > 0 {
		return "", &fleet.Error{Op: op, Target: c.String(),
			Err:  fmt.Errorf("%w: %d replication links and %d app slots still use it", fleet.ErrConflict, links, slots),
			Hint: "remove its secondaries and apps first"}
	}
	if _, err := os.Stat(p); err == nil {
		// Fold the WAL in, so the kept file alone holds every write.
		if err := t.keepCopy(ctx, p); err != nil {
			return "", err
		}
		if db, err := t.dbAt(c, p); err == nil {
			_, _ = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		}
		t.closePools(p)
		if _, err := os.Stat(kp); err == nil {
			return "", &fleet.Error{Op: op, Target: c.String(), Err: fmt.Errorf("%w: file %s exists", fleet.ErrConflict, kp),
				Hint: "move that file away first"}
		}
		for _, suffix := range []string{"-wal", "-shm", ""} {
			if err := os.Rename(p+suffix, kp+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", &fleet.Error{Op: op, Target: c.String(), Err: err}
			}
		}
		if err := syncFile(filepath.Dir(kp)); err != nil {
			return "", &fleet.Error{Op: op, Target: c.String(), Err: err}
		}
	} else if _, kerr := os.Stat(kp); kerr != nil {
		return "", &fleet.Error{Op: op, Target: c.String(), Err: fmt.Errorf("%w: its file %s is missing", fleet.ErrNoDatabase, p)}
	}
	// A crash before this transaction leaves the file at its new name and
	// the catalog at the old one; calling again finishes here.
	err = t.cpTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`UPDATE databases SET name = ?3 WHERE server = ?1 AND name = ?2`,
			`UPDATE database_control SET name = ?3 WHERE server = ?1 AND name = ?2`,
			`UPDATE switch_baselines SET name = ?3 WHERE server = ?1 AND name = ?2`,
			`UPDATE stale_copies SET name = ?3 WHERE server = ?1 AND name = ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, c.Server, c.Database, as); err != nil {
				return err
			}
		}
		return logOp(ctx, tx, op, c.String(), "kept as "+kept.String())
	})
	if err != nil {
		return "", cpError(op, c.String(), err)
	}
	return where(kept, kp), nil
}

func where(loc fleet.Location, path string) string {
	return fmt.Sprintf("database %s (file %s)", loc, path)
}
