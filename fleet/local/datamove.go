package local

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/faults"
)

var _ fleet.DataMover = (*Target)(nil)

// quote makes an SQLite identifier.
func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

// Tables lists the user tables of a database (not the shard map tables),
// with columns, primary key and foreign keys from the schema itself.
func (t *Target) Tables(ctx context.Context, loc fleet.Location) ([]fleet.TableInfo, error) {
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_\_ShardManagement%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, sqlErr("list tables", loc, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, sqlErr("list tables", loc, err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, sqlErr("list tables", loc, err)
	}
	out := make([]fleet.TableInfo, 0, len(names))
	for _, n := range names {
		ti := fleet.TableInfo{Name: n}
		cols, err := db.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, n)
		if err != nil {
			return nil, sqlErr("read columns of "+n, loc, err)
		}
		pks := map[int]string{}
		for cols.Next() {
			var c string
			var pk int
			if err := cols.Scan(&c, &pk); err != nil {
				cols.Close()
				return nil, sqlErr("read columns of "+n, loc, err)
			}
			ti.Columns = append(ti.Columns, c)
			if pk > 0 {
				pks[pk] = c
			}
		}
		cols.Close()
		for i := 1; i <= len(pks); i++ {
			ti.PrimaryKey = append(ti.PrimaryKey, pks[i])
		}
		fks, err := db.QueryContext(ctx, `SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, n)
		if err != nil {
			return nil, sqlErr("read foreign keys of "+n, loc, err)
		}
		byID := map[int]*fleet.ForeignKey{}
		var order []int
		for fks.Next() {
			var id int
			var parent, from string
			var to sql.NullString
			if err := fks.Scan(&id, &parent, &from, &to); err != nil {
				fks.Close()
				return nil, sqlErr("read foreign keys of "+n, loc, err)
			}
			fk, ok := byID[id]
			if !ok {
				fk = &fleet.ForeignKey{Table: parent}
				byID[id] = fk
				order = append(order, id)
			}
			fk.From = append(fk.From, from)
			fk.To = append(fk.To, to.String)
		}
		fks.Close()
		for _, id := range order {
			ti.ForeignKeys = append(ti.ForeignKeys, *byID[id])
		}
		out = append(out, ti)
	}
	return out, nil
}

// where renders "key >= ? AND key < ?" for a range; nil bounds are open.
func where(keyCol string, r fleet.KeyRange, prefix string) (string, []any) {
	var conds []string
	var args []any
	col := prefix + quote(keyCol)
	if r.Low != nil {
		conds = append(conds, col+" >= ?")
		args = append(args, r.Low)
	}
	if r.High != nil {
		conds = append(conds, col+" < ?")
		args = append(args, r.High)
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), args
}

// CountRange counts the rows of table whose key column lies in r.
func (t *Target) CountRange(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (int64, error) {
	db, err := t.db(ctx, loc)
	if err != nil {
		return 0, err
	}
	w, args := where(keyCol, r, "")
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(table)+` WHERE `+w, args...).Scan(&n); err != nil {
		return 0, sqlErr("count "+table, loc, err)
	}
	return n, nil
}

// NextBound returns the key b such that [r.Low, b) holds about n distinct key
// values of the first table's key column (the parent table carries every
// shardlet), or r.High when fewer remain. It reads the key index only.
func (t *Target) NextBound(ctx context.Context, loc fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange, n int) (any, error) {
	if len(tables) == 0 || n < 1 {
		return nil, fmt.Errorf("%w: NextBound needs a table and n >= 1", fleet.ErrInvalidArgument)
	}
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, err
	}
	// The n+1-th distinct key over all tables is the exclusive bound.
	var parts []string
	var args []any
	for _, tb := range tables {
		w, a := where(tb.KeyColumn, r, "")
		parts = append(parts, `SELECT `+quote(tb.KeyColumn)+` AS k FROM `+quote(tb.Table)+` WHERE `+w)
		args = append(args, a...)
	}
	q := `SELECT k FROM (` + strings.Join(parts, " UNION ") + `) ORDER BY k LIMIT 1 OFFSET ?`
	args = append(args, n)
	var b any
	err = db.QueryRowContext(ctx, q, args...).Scan(&b)
	if err == sql.ErrNoRows {
		return r.High, nil
	}
	if err != nil {
		return nil, sqlErr("choose batch", loc, err)
	}
	return b, nil
}

// CopyRange copies the rows in r of each table (parents first) from src to dst
// inside one transaction on dst: ATTACH + INSERT..SELECT, the fastest path
// SQLite offers, streaming inside the engine.
func (t *Target) CopyRange(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (map[string]int64, error) {
	if err := faults.Hit("move.copy"); err != nil {
		return nil, err
	}
	srcPath, err := t.DatabasePath(ctx, src)
	if err != nil {
		return nil, err
	}
	db, err := t.db(ctx, dst)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, sqlErr("copy", dst, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, srcPath); err != nil {
		return nil, sqlErr("attach "+src.String(), dst, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE src`)
	out := map[string]int64{}
	err = withTx(ctx, conn, func() error {
		for _, tb := range tables {
			cols, err := columnList(ctx, conn, tb.Table)
			if err != nil {
				return err
			}
			w, args := where(tb.KeyColumn, r, "")
			res, err := conn.ExecContext(ctx, `INSERT INTO main.`+quote(tb.Table)+` (`+cols+`) SELECT `+cols+` FROM src.`+quote(tb.Table)+` WHERE `+w, args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			out[tb.Table] = n
		}
		return nil
	})
	if err != nil {
		return nil, sqlErr("copy "+r.String()+" from "+src.String(), dst, err)
	}
	return out, nil
}

func columnList(ctx context.Context, conn *sql.Conn, table string) (string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name FROM pragma_table_info(?, 'main') ORDER BY cid`, table)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", err
		}
		cols = append(cols, quote(c))
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("table %s does not exist on the target", table)
	}
	return strings.Join(cols, ", "), rows.Err()
}

// withTx runs f inside BEGIN IMMEDIATE / COMMIT on one connection.
func withTx(ctx context.Context, conn *sql.Conn, f func() error) error {
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	if err := f(); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return err
	}
	_, err := conn.ExecContext(ctx, `COMMIT`)
	return err
}

// Checksum returns the row count and an order-independent checksum of the
// full rows of table in r: the sum and the xor-mix of a 64-bit FNV-1a hash of
// each row's SQL literal text (quote() keeps types and NULLs apart).
func (t *Target) Checksum(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (int64, string, error) {
	if err := faults.Hit("move.checksum"); err != nil {
		return 0, "", err
	}
	db, err := t.db(ctx, loc)
	if err != nil {
		return 0, "", err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, "", sqlErr("checksum", loc, err)
	}
	defer conn.Close()
	cols, err := columnList(ctx, conn, table)
	if err != nil {
		return 0, "", sqlErr("checksum "+table, loc, err)
	}
	// quote() renders each value as an SQL literal, so types and NULLs count.
	var parts []string
	for _, c := range strings.Split(cols, ", ") {
		parts = append(parts, "quote("+c+")")
	}
	w, args := where(keyCol, r, "")
	// SQLite has no built-in hash: hash each row's literal text in Go while
	// streaming rows one at a time, so memory stays flat.
	rows, err := conn.QueryContext(ctx, `SELECT `+strings.Join(parts, " || '|' || ")+` FROM `+quote(table)+` WHERE `+w, args...)
	if err != nil {
		return 0, "", sqlErr("checksum "+table, loc, err)
	}
	defer rows.Close()
	var n int64
	var acc, acc2 uint64
	var text []byte
	for rows.Next() {
		if err := rows.Scan(&text); err != nil {
			return 0, "", sqlErr("checksum "+table, loc, err)
		}
		h := fnv64(text)
		acc += h
		acc2 ^= h * 0x9E3779B97F4A7C15
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, "", sqlErr("checksum "+table, loc, err)
	}
	return n, fmt.Sprintf("%016x%016x", acc, acc2), nil
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// DeleteRange deletes the rows in r of each table, in the order given
// (children first), in one transaction.
func (t *Target) DeleteRange(ctx context.Context, loc fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (int64, error) {
	if err := faults.Hit("move.delete"); err != nil {
		return 0, err
	}
	db, err := t.db(ctx, loc)
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, sqlErr("delete", loc, err)
	}
	defer conn.Close()
	var total int64
	err = withTx(ctx, conn, func() error {
		for _, tb := range tables {
			w, args := where(tb.KeyColumn, r, "")
			res, err := conn.ExecContext(ctx, `DELETE FROM `+quote(tb.Table)+` WHERE `+w, args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, sqlErr("delete "+r.String(), loc, err)
	}
	return total, nil
}

// CopyTableIfEmpty copies a whole (reference) table from src to dst when the
// target table is empty; otherwise it changes nothing.
func (t *Target) CopyTableIfEmpty(ctx context.Context, src, dst fleet.Location, table string) (int64, error) {
	srcPath, err := t.DatabasePath(ctx, src)
	if err != nil {
		return 0, err
	}
	db, err := t.db(ctx, dst)
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, sqlErr("copy "+table, dst, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, srcPath); err != nil {
		return 0, sqlErr("attach "+src.String(), dst, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE src`)
	var n int64
	err = withTx(ctx, conn, func() error {
		var exists int
		if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM main.`+quote(table)+`)`).Scan(&exists); err != nil {
			return err
		}
		if exists == 1 {
			return nil
		}
		cols, err := columnList(ctx, conn, table)
		if err != nil {
			return err
		}
		res, err := conn.ExecContext(ctx, `INSERT INTO main.`+quote(table)+` (`+cols+`) SELECT `+cols+` FROM src.`+quote(table))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, sqlErr("copy reference table "+table, dst, err)
	}
	return n, nil
}
