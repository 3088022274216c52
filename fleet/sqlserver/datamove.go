package sqlserver

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
	mssql "github.com/microsoft/go-mssqldb"
)

var _ fleet.DataMover = (*Target)(nil)

// Page sizes: rows read per keyset page (and bulk-copied per CopyIn), and
// rows deleted per chunk, each chunk its own short transaction.
const (
	pageRows   = 5000
	deleteRows = 5000
	// delete-by-key pages stay under SQL Server's 2100 parameters.
	maxParams = 2000
)

// tableName is how fleetplan names a table: bare for dbo, schema.table
// otherwise (as plans write them).
func tableName(schema, name string) string {
	return qualified(xTableInfo{SchemaName: schema, TableName: name})
}

// Tables implements fleet.DataMover from sys.tables, sys.columns, the
// primary keys and sys.foreign_keys.
func (t *Target) Tables(ctx context.Context, loc fleet.Location) ([]fleet.TableInfo, error) {
	db, err := t.db(loc)
	if err != nil {
		return nil, err
	}
	where := loc.String()
	byName := map[string]*fleet.TableInfo{}
	var order []string
	rows, err := db.QueryContext(ctx, TablesQuery)
	if err != nil {
		return nil, t.red.wrap("list tables", where, err)
	}
	for rows.Next() {
		var s, n, c, typ string
		var id int
		if err := rows.Scan(&s, &n, &c, &typ, &id); err != nil {
			rows.Close()
			return nil, t.red.wrap("list tables", where, err)
		}
		name := tableName(s, n)
		ti := byName[name]
		if ti == nil {
			ti = &fleet.TableInfo{Name: name, ForeignKeys: []fleet.ForeignKey{}}
			byName[name] = ti
			order = append(order, name)
		}
		ti.Columns = append(ti.Columns, c)
		ti.ColumnTypes = append(ti.ColumnTypes, typ)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, t.red.wrap("list tables", where, err)
	}
	rows, err = db.QueryContext(ctx, PrimaryKeysQuery)
	if err != nil {
		return nil, t.red.wrap("list tables", where, err)
	}
	for rows.Next() {
		var s, n, c string
		if err := rows.Scan(&s, &n, &c); err != nil {
			rows.Close()
			return nil, t.red.wrap("list tables", where, err)
		}
		if ti := byName[tableName(s, n)]; ti != nil {
			ti.PrimaryKey = append(ti.PrimaryKey, c)
		}
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, ForeignKeysQuery)
	if err != nil {
		return nil, t.red.wrap("list tables", where, err)
	}
	lastFK := ""
	for rows.Next() {
		var cs, ct, fk, ps, pt, cc, pc string
		if err := rows.Scan(&cs, &ct, &fk, &ps, &pt, &cc, &pc); err != nil {
			rows.Close()
			return nil, t.red.wrap("list tables", where, err)
		}
		ti := byName[tableName(cs, ct)]
		if ti == nil {
			continue
		}
		if id := cs + "." + ct + "." + fk; id != lastFK || len(ti.ForeignKeys) == 0 {
			ti.ForeignKeys = append(ti.ForeignKeys, fleet.ForeignKey{Table: tableName(ps, pt)})
			lastFK = id
		}
		f := &ti.ForeignKeys[len(ti.ForeignKeys)-1]
		f.From, f.To = append(f.From, cc), append(f.To, pc)
	}
	rows.Close()
	out := make([]fleet.TableInfo, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, t.red.wrap("list tables", where, rows.Err())
}

// beginTx begins a transaction in a database.
func (t *Target) beginTx(ctx context.Context, loc fleet.Location, what string) (*sql.Tx, error) {
	db, err := t.db(loc)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	return tx, t.red.wrap(what, loc.String(), err)
}

// tableOf returns a table's description in a database.
func (t *Target) tableOf(ctx context.Context, loc fleet.Location, name string) (fleet.TableInfo, Table, error) {
	tb, err := ParseTable(name)
	if err != nil {
		return fleet.TableInfo{}, tb, &fleet.Error{Op: "find table", Target: loc.String(), Err: err}
	}
	all, err := t.Tables(ctx, loc)
	if err != nil {
		return fleet.TableInfo{}, tb, err
	}
	want := tableName(tb.Schema, tb.Name)
	for _, ti := range all {
		if strings.EqualFold(ti.Name, want) {
			return ti, tb, nil
		}
	}
	return fleet.TableInfo{}, tb, &fleet.Error{Op: "find table", Target: loc.String(), Err: fmt.Errorf("%w: no table %s", fleet.ErrNotFound, tb.Plain()),
		Hint: "the target schema must exist before a move (fleetplan creates no tables)"}
}

// ordering is the keyset order of a table: its primary key.
func ordering(ti fleet.TableInfo) ([]string, error) {
	if len(ti.PrimaryKey) == 0 {
		return nil, fmt.Errorf("%w: table %s has no primary key; keyset reads need one", fleet.ErrInvalidArgument, ti.Name)
	}
	return ti.PrimaryKey, nil
}

// param converts a key value (as package shardkey decodes keys) into a
// go-mssqldb parameter.
func param(v any) any {
	switch k := v.(type) {
	case uuid.UUID:
		return mssql.UniqueIdentifier(k)
	case shardkey.TimeSpan:
		return int64(k)
	case shardkey.DateTimeOffset:
		return k.Time()
	}
	return v
}

// rangeArgs are the @lo and @hi parameters of a key range.
func rangeArgs(r fleet.KeyRange) []any {
	var a []any
	if r.Low != nil {
		a = append(a, sql.Named("lo", param(r.Low)))
	}
	if r.High != nil {
		a = append(a, sql.Named("hi", param(r.High)))
	}
	return a
}

// CountRange implements fleet.DataMover.
func (t *Target) CountRange(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (int64, error) {
	tb, err := ParseTable(table)
	if err != nil {
		return 0, &fleet.Error{Op: "count rows", Target: loc.String(), Err: err}
	}
	db, err := t.db(loc)
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.QueryRowContext(ctx, CountQuery(tb, keyCol, r.Low != nil, r.High != nil), rangeArgs(r)...).Scan(&n)
	return n, t.red.wrap("count rows of "+tb.Plain(), loc.String(), err)
}

// like converts a scanned key back to the type of the range's bounds.
func like(v any, r fleet.KeyRange) any {
	ref := r.Low
	if ref == nil {
		ref = r.High
	}
	switch ref.(type) {
	case int32:
		if n, ok := v.(int64); ok {
			return int32(n)
		}
	case uuid.UUID:
		if b, ok := v.([]byte); ok {
			var u mssql.UniqueIdentifier
			if u.Scan(b) == nil {
				return uuid.UUID(u)
			}
		}
	}
	return v
}

// NextBound implements fleet.DataMover with one query over the union of
// the tables' keys (no OFFSET, no row leaves the server).
func (t *Target) NextBound(ctx context.Context, loc fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange, n int) (any, error) {
	if n <= 0 {
		return nil, &fleet.Error{Op: "next bound", Target: loc.String(), Err: fmt.Errorf("%w: n must be positive", fleet.ErrInvalidArgument)}
	}
	var kt []KeyedTable
	for _, st := range tables {
		tb, err := ParseTable(st.Table)
		if err != nil {
			return nil, &fleet.Error{Op: "next bound", Target: loc.String(), Err: err}
		}
		kt = append(kt, KeyedTable{Table: tb, Key: st.KeyColumn})
	}
	if len(kt) == 0 {
		return r.High, nil
	}
	db, err := t.db(loc)
	if err != nil {
		return nil, err
	}
	var b any
	args := append(rangeArgs(r), sql.Named("n", n+1))
	err = db.QueryRowContext(ctx, NextBoundQuery(kt, r.Low != nil, r.High != nil), args...).Scan(&b)
	if err == sql.ErrNoRows || (err == nil && b == nil) {
		return r.High, nil
	}
	if err != nil {
		return nil, t.red.wrap("next bound", loc.String(), err)
	}
	return like(b, r), nil
}

// page is one keyset page of rows.
type page struct {
	rows [][]any
	last []any // the ordering columns of its last row
}

// queryer is a pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// readPage reads the page after `after` (nil: the first page).
func (t *Target) readPage(ctx context.Context, db queryer, loc fleet.Location, tb Table, ti fleet.TableInfo, key string, order []string, r fleet.KeyRange, after []any, n int) (page, error) {
	q := PageQuery(tb, ti.Columns, key, order, r.Low != nil, r.High != nil, after != nil)
	args := append(rangeArgs(r), sql.Named("n", n))
	for i, v := range after {
		args = append(args, sql.Named(fmt.Sprintf("a%d", i), v))
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return page{}, t.red.wrap("read "+tb.Plain(), loc.String(), err)
	}
	defer rows.Close()
	idx := orderIndex(ti, order)
	var p page
	for rows.Next() {
		vals := make([]any, len(ti.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return page{}, t.red.wrap("read "+tb.Plain(), loc.String(), err)
		}
		normalize(ti, ti.Columns, vals)
		p.rows = append(p.rows, vals)
	}
	if len(p.rows) > 0 {
		lastRow := p.rows[len(p.rows)-1]
		for _, i := range idx {
			p.last = append(p.last, lastRow[i])
		}
	}
	return p, t.red.wrap("read "+tb.Plain(), loc.String(), rows.Err())
}

// textTypes are the column types go-mssqldb scans into []byte holding
// their text (decimal digits), which bulk copy and parameters take as a
// string.
var textTypes = map[string]bool{"decimal": true, "numeric": true, "money": true, "smallmoney": true}

// normalize turns the []byte of such columns into strings, in place; cols
// are the column names of the row's values.
func normalize(ti fleet.TableInfo, cols []string, row []any) {
	for i, c := range cols {
		typ, _ := ti.ColumnType(c)
		if b, ok := row[i].([]byte); ok && textTypes[strings.ToLower(typ)] {
			row[i] = string(b)
		}
	}
}

// orderIndex maps ordering columns to their positions among the columns.
func orderIndex(ti fleet.TableInfo, order []string) []int {
	idx := make([]int, len(order))
	for i, o := range order {
		for j, c := range ti.Columns {
			if strings.EqualFold(c, o) {
				idx[i] = j
			}
		}
	}
	return idx
}

func rowKey(row []any, idx []int) string {
	var b strings.Builder
	for _, i := range idx {
		fmt.Fprintf(&b, "%#v|", row[i])
	}
	return b.String()
}

// CopyRange implements fleet.DataMover: each table's rows in r are read
// from src in keyset pages and written to dst with bulk copy
// (mssql.CopyIn), all in one dst transaction; rows dst already has (same
// primary key) are skipped, so a re-run after a crash copies only what is
// missing. The split-merge preconditions are checked first, once per source
// table: a primary key or unique index led by the sharding key, and no
// enabled DELETE trigger.
func (t *Target) CopyRange(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (map[string]int64, error) {
	out := map[string]int64{}
	for _, st := range tables {
		if err := t.checkMovable(ctx, src, st); err != nil {
			return nil, err
		}
	}
	sdb, err := t.db(src)
	if err != nil {
		return nil, err
	}
	tx, err := t.beginTx(ctx, dst, "copy batch")
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, st := range tables {
		n, err := t.copyTable(ctx, sdb, tx, src, dst, st.Table, st.KeyColumn, r)
		if err != nil {
			return nil, err
		}
		out[st.Table] = n
	}
	return out, t.red.wrap("copy batch", dst.String(), tx.Commit())
}

// copyTable copies the rows of table in r (key "" with an open range:
// the whole table) page by page inside tx.
func (t *Target) copyTable(ctx context.Context, sdb *sql.DB, tx *sql.Tx, src, dst fleet.Location, table, key string, r fleet.KeyRange) (int64, error) {
	ti, tb, err := t.tableOf(ctx, src, table)
	if err != nil {
		return 0, err
	}
	order, err := ordering(ti)
	if err != nil {
		return 0, &fleet.Error{Op: "copy " + tb.Plain(), Target: src.String(), Err: err}
	}
	idx := orderIndex(ti, order)
	var copied int64
	var after []any
	for {
		p, err := t.readPage(ctx, sdb, src, tb, ti, key, order, r, after, pageRows)
		if err != nil || len(p.rows) == 0 {
			return copied, err
		}
		have, err := existingKeys(ctx, tx, ti, tb, order, p, idx)
		if err != nil {
			return copied, t.red.wrap("copy "+tb.Plain(), dst.String(), err)
		}
		stmt, err := tx.PrepareContext(ctx, mssql.CopyIn(tb.String(), mssql.BulkOptions{KeepNulls: true, CheckConstraints: true}, ti.Columns...))
		if err != nil {
			return copied, t.red.wrap("copy "+tb.Plain(), dst.String(), err)
		}
		for _, row := range p.rows {
			if have[rowKey(row, idx)] {
				continue
			}
			if _, err := stmt.ExecContext(ctx, row...); err != nil {
				stmt.Close()
				return copied, t.red.wrap("copy "+tb.Plain(), dst.String(), err)
			}
			copied++
		}
		if _, err := stmt.ExecContext(ctx); err != nil { // flush the bulk load
			stmt.Close()
			return copied, t.red.wrap("copy "+tb.Plain(), dst.String(), err)
		}
		stmt.Close()
		if len(p.rows) < pageRows {
			return copied, nil
		}
		after = p.last
	}
}

// existingKeys reads which rows of a page the destination has, by primary
// key, locking them until the transaction ends.
func existingKeys(ctx context.Context, tx *sql.Tx, ti fleet.TableInfo, tb Table, order []string, p page, idx []int) (map[string]bool, error) {
	first := p.rows[0]
	var args []any
	for i, j := range idx {
		args = append(args, sql.Named(fmt.Sprintf("a%d", i), first[j]), sql.Named(fmt.Sprintf("b%d", i), p.last[i]))
	}
	rows, err := tx.QueryContext(ctx, ExistingKeysQuery(tb, order), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	pos := make([]int, len(order))
	for i := range pos {
		pos[i] = i
	}
	for rows.Next() {
		vals := make([]any, len(order))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		normalize(ti, order, vals)
		have[rowKey(vals, pos)] = true
	}
	return have, rows.Err()
}

// Checksum implements fleet.DataMover: COUNT_BIG and CHECKSUM_AGG of
// BINARY_CHECKSUM over every column, computed on the server.
func (t *Target) Checksum(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (int64, string, error) {
	ti, tb, err := t.tableOf(ctx, loc, table)
	if err != nil {
		return 0, "", err
	}
	db, err := t.db(loc)
	if err != nil {
		return 0, "", err
	}
	var n int64
	var sum int64
	err = db.QueryRowContext(ctx, ChecksumQuery(tb, ti.Columns, keyCol, r.Low != nil, r.High != nil), rangeArgs(r)...).Scan(&n, &sum)
	return n, fmt.Sprintf("%d:%d", n, sum), t.red.wrap("checksum "+tb.Plain(), loc.String(), err)
}

// DeleteRange implements fleet.DataMover in bounded chunks (DELETE TOP),
// each chunk its own short transaction so the log never holds a whole
// range; children first, in the order given. Idempotent: a run cut short
// is finished by running it again.
func (t *Target) DeleteRange(ctx context.Context, loc fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (int64, error) {
	db, err := t.db(loc)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, st := range tables {
		tb, err := ParseTable(st.Table)
		if err != nil {
			return total, &fleet.Error{Op: "delete range", Target: loc.String(), Err: err}
		}
		q := DeleteChunk(tb, st.KeyColumn, r.Low != nil, r.High != nil)
		args := append(rangeArgs(r), sql.Named("n", deleteRows))
		for {
			res, err := db.ExecContext(ctx, q, args...)
			if err != nil {
				return total, t.red.wrap("delete rows of "+tb.Plain(), loc.String(), err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < deleteRows {
				break
			}
		}
	}
	return total, nil
}

// CopyTableIfEmpty implements fleet.DataMover: a reference table is copied
// whole (keyset pages, bulk copy, one transaction) into an empty table.
func (t *Target) CopyTableIfEmpty(ctx context.Context, src, dst fleet.Location, table string) (int64, error) {
	tb, err := ParseTable(table)
	if err != nil {
		return 0, &fleet.Error{Op: "copy reference table", Target: dst.String(), Err: err}
	}
	sdb, err := t.db(src)
	if err != nil {
		return 0, err
	}
	tx, err := t.beginTx(ctx, dst, "copy reference table")
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var has int
	if err := tx.QueryRowContext(ctx, ExistsQuery(tb)).Scan(&has); err != nil {
		return 0, t.red.wrap("copy reference table", dst.String(), err)
	}
	if has == 1 {
		return 0, nil
	}
	n, err := t.copyTable(ctx, sdb, tx, src, dst, table, "", fleet.KeyRange{})
	if err != nil {
		return 0, err
	}
	return n, t.red.wrap("copy reference table", dst.String(), tx.Commit())
}

// compare walks the rows of table in r on dst (read through dq) page by
// page and finds, for each, whether src has a row with every column equal
// (a copy).
func (t *Target) compare(ctx context.Context, src, dst fleet.Location, dq queryer, table, keyCol string, r fleet.KeyRange, fn func(row []any, copy bool) error) error {
	ti, tb, err := t.tableOf(ctx, dst, table)
	if err != nil {
		return err
	}
	order, err := ordering(ti)
	if err != nil {
		return &fleet.Error{Op: "compare " + tb.Plain(), Target: dst.String(), Err: err}
	}
	sdb, err := t.db(src)
	if err != nil {
		return err
	}
	idx := orderIndex(ti, order)
	var after []any
	for {
		p, err := t.readPage(ctx, dq, dst, tb, ti, keyCol, order, r, after, pageRows)
		if err != nil || len(p.rows) == 0 {
			return err
		}
		// The source rows of the same key span: from just before the
		// page's first row to its last.
		srcRows := map[string][]any{}
		first := make([]any, len(idx))
		for i, j := range idx {
			first[i] = p.rows[0][j]
		}
		sp, err := t.readSpan(ctx, sdb, src, tb, ti, keyCol, order, r, first, p.last)
		if err != nil {
			return err
		}
		for _, row := range sp {
			srcRows[rowKey(row, idx)] = row
		}
		for _, row := range p.rows {
			s, ok := srcRows[rowKey(row, idx)]
			if err := fn(row, ok && sameRow(s, row)); err != nil {
				return err
			}
		}
		if len(p.rows) < pageRows {
			return nil
		}
		after = p.last
	}
}

// readSpan reads the rows of a table whose ordering columns lie between
// two rows' (inclusive).
func (t *Target) readSpan(ctx context.Context, db *sql.DB, loc fleet.Location, tb Table, ti fleet.TableInfo, key string, order []string, r fleet.KeyRange, from, to []any) ([][]any, error) {
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND NOT %s AND NOT %s ORDER BY %s", quoteList(ti.Columns), tb,
		rangeWhere(key, r.Low != nil, r.High != nil), rowBefore(order, "a"), rowAfter(order, "b"), quoteList(order))
	args := rangeArgs(r)
	for i := range order {
		args = append(args, sql.Named(fmt.Sprintf("a%d", i), from[i]), sql.Named(fmt.Sprintf("b%d", i), to[i]))
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, t.red.wrap("read "+tb.Plain(), loc.String(), err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(ti.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, t.red.wrap("read "+tb.Plain(), loc.String(), err)
		}
		normalize(ti, ti.Columns, vals)
		out = append(out, vals)
	}
	return out, t.red.wrap("read "+tb.Plain(), loc.String(), rows.Err())
}

// sameRow compares two rows column by column.
func sameRow(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if bx, ok := x.([]byte); ok {
			if by, ok := y.([]byte); !ok || !bytes.Equal(bx, by) {
				return false
			}
			continue
		}
		if tx, ok := x.(time.Time); ok {
			if ty, ok := y.(time.Time); !ok || !tx.Equal(ty) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// CompareRange implements fleet.DataMover.
func (t *Target) CompareRange(ctx context.Context, src, dst fleet.Location, table, keyCol string, r fleet.KeyRange) (fleet.RangeComparison, error) {
	var c fleet.RangeComparison
	ddb, err := t.db(dst)
	if err != nil {
		return c, err
	}
	err = t.compare(ctx, src, dst, ddb, table, keyCol, r, func(_ []any, copy bool) error {
		if copy {
			c.Copies++
		} else {
			c.Others++
		}
		return nil
	})
	return c, err
}

// DeleteCopies implements fleet.DataMover: only rows of dst that equal a
// row of src in every column are deleted, by primary key, in one dst
// transaction; every other row is left alone.
func (t *Target) DeleteCopies(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (int64, error) {
	tx, err := t.beginTx(ctx, dst, "delete copies")
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var total int64
	for _, st := range tables {
		ti, tb, err := t.tableOf(ctx, dst, st.Table)
		if err != nil {
			return total, err
		}
		order, err := ordering(ti)
		if err != nil {
			return total, &fleet.Error{Op: "delete copies", Target: dst.String(), Err: err}
		}
		idx := orderIndex(ti, order)
		per := maxParams / len(order)
		var batch [][]any
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			var args []any
			for r, row := range batch {
				for c, j := range idx {
					args = append(args, sql.Named(fmt.Sprintf("d%d_%d", r, c), row[j]))
				}
			}
			res, err := tx.ExecContext(ctx, DeleteRowsSQL(tb, order, len(batch)), args...)
			if err != nil {
				return t.red.wrap("delete copies of "+tb.Plain(), dst.String(), err)
			}
			n, _ := res.RowsAffected()
			total += n
			batch = batch[:0]
			return nil
		}
		// The walk reads dst in the transaction, and the keyset pages only
		// move forward, so deleting rows of a page already read is safe.
		if err := t.compare(ctx, src, dst, tx, st.Table, st.KeyColumn, r, func(row []any, copy bool) error {
			if !copy {
				return nil
			}
			batch = append(batch, row)
			if len(batch) == per {
				return flush()
			}
			return nil
		}); err != nil {
			return total, err
		}
		if err := flush(); err != nil {
			return total, err
		}
	}
	return total, t.red.wrap("delete copies", dst.String(), tx.Commit())
}

// keyIndex is a primary key or unique index of a table and its leading
// key column.
type keyIndex struct {
	name    string
	primary bool
	leading string
}

// movable checks the split-merge requirements of a sharded table from its
// catalog: a primary key or unique index whose leading column is the
// sharding key (so a move reads and deletes by seeks and can cut a large
// shardlet into pieces), and no enabled DELETE trigger (the source cleanup
// would fire it). It says what to change.
func movable(table, key string, idx []keyIndex, deleteTriggers []string) error {
	if len(deleteTriggers) > 0 {
		return fmt.Errorf("%w: table %s has DELETE trigger(s) %s, which the source cleanup of a move would fire",
			fleet.ErrInvalidArgument, table, strings.Join(deleteTriggers, ", "))
	}
	for _, i := range idx {
		if strings.EqualFold(i.leading, key) {
			return nil
		}
	}
	return fmt.Errorf("%w: table %s has no primary key or unique index led by its sharding key %s", fleet.ErrInvalidArgument, table, key)
}

const movableHint = "the split-merge requirements: lead the primary key (or a unique index) with the sharding key, " +
	"and disable or drop DELETE triggers of sharded tables for the move"

// checked remembers the tables whose preconditions held, per source.
var checked sync.Map

func (t *Target) checkMovable(ctx context.Context, loc fleet.Location, st fleet.ShardedTable) error {
	id := strings.ToLower(t.cfg.Server + "|" + loc.String() + "|" + st.Table + "|" + st.KeyColumn)
	if _, ok := checked.Load(id); ok {
		return nil
	}
	tb, err := ParseTable(st.Table)
	if err != nil {
		return &fleet.Error{Op: "check table", Target: loc.String(), Err: err}
	}
	db, err := t.db(loc)
	if err != nil {
		return err
	}
	var idx []keyIndex
	rows, err := db.QueryContext(ctx, KeyIndexesQuery, sql.Named("table", tb.String()))
	if err != nil {
		return t.red.wrap("check table "+tb.Plain(), loc.String(), err)
	}
	for rows.Next() {
		var k keyIndex
		if err := rows.Scan(&k.name, &k.primary, &k.leading); err != nil {
			rows.Close()
			return t.red.wrap("check table "+tb.Plain(), loc.String(), err)
		}
		idx = append(idx, k)
	}
	rows.Close()
	var trig []string
	rows, err = db.QueryContext(ctx, DeleteTriggersQuery, sql.Named("table", tb.String()))
	if err != nil {
		return t.red.wrap("check table "+tb.Plain(), loc.String(), err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return t.red.wrap("check table "+tb.Plain(), loc.String(), err)
		}
		trig = append(trig, n)
	}
	rows.Close()
	if err := movable(tb.Plain(), st.KeyColumn, idx, trig); err != nil {
		return &fleet.Error{Op: "check table before the move", Target: loc.String(), Err: err, Hint: movableHint}
	}
	checked.Store(id, true)
	return nil
}
