package local

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
	"modernc.org/sqlite"
)

var _ fleet.DataMover = (*Target)(nil)

// SQL functions the mover registers with the SQLite driver:
//
//	fleetplan_key(keyType, value) -> BLOB: the stored-key encoding of a column
//	  value (guid as text or 16 RFC-4122 bytes, binary as BLOB, datetime and
//	  datetimeoffset as RFC 3339 text, timespan as integer ticks), NULL when
//	  the value does not parse. Ranges of non-integer keys filter on it, so
//	  rows are selected in the shard map's order (SQL Server GUID order...).
//	fleetplan_rowsum(col, ...) -> TEXT: an order-independent checksum of rows
//	  (the lane-wise sum of each row's SHA-256 over type-tagged values).
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("fleetplan_key", 2, sqlKey)
	sqlite.MustRegisterFunction("fleetplan_rowsum", &sqlite.FunctionImpl{
		NArgs:         -1,
		Deterministic: true,
		MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) { return &rowSum{}, nil },
	})
}

func sqlKey(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	kt, ok := args[0].(int64)
	if !ok || args[1] == nil {
		return nil, nil
	}
	k := fleet.KeyType(kt)
	var v any
	var err error
	switch x := args[1].(type) {
	case string:
		v, err = shardkey.ParseText(k, x)
	case []byte:
		switch {
		case k == fleet.KeyGuid && len(x) == 16:
			var u uuid.UUID
			copy(u[:], x)
			v = u
		case k == fleet.KeyGuid:
			v, err = shardkey.ParseText(k, string(x))
		default:
			v = append([]byte(nil), x...)
		}
	case int64:
		switch k {
		case fleet.KeyTimeSpan:
			v = shardkey.TimeSpan(x)
		default:
			v = x
		}
	case float64:
		v = x
	default:
		return nil, nil
	}
	if err != nil {
		return nil, nil
	}
	b, err := shardkey.Encode(k, v)
	if err != nil {
		return nil, nil
	}
	return b, nil
}

// rowSum is the fleetplan_rowsum aggregate.
type rowSum struct {
	lanes [4]uint64
	buf   []byte
}

func (r *rowSum) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	b := r.buf[:0]
	for _, a := range args {
		switch v := a.(type) {
		case nil:
			b = append(b, 'N')
		case int64:
			b = append(b, 'I')
			b = binary.BigEndian.AppendUint64(b, uint64(v))
		case float64:
			b = append(b, 'R')
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		case string:
			b = append(b, 'T')
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, 'B')
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case bool:
			b = append(b, 'I')
			n := uint64(0)
			if v {
				n = 1
			}
			b = binary.BigEndian.AppendUint64(b, n)
		case time.Time:
			b = append(b, 'T')
			s := v.Format(time.RFC3339Nano)
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		default:
			return fmt.Errorf("fleetplan_rowsum: unexpected value %T", a)
		}
	}
	r.buf = b
	h := sha256.Sum256(b)
	for i := range r.lanes {
		r.lanes[i] += binary.BigEndian.Uint64(h[i*8:])
	}
	return nil
}

func (r *rowSum) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return errors.New("fleetplan_rowsum is not a window function")
}

func (r *rowSum) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	var out [32]byte
	for i, l := range r.lanes {
		binary.BigEndian.PutUint64(out[i*8:], l)
	}
	return hex.EncodeToString(out[:]), nil
}

func (r *rowSum) Final(*sqlite.FunctionContext) {}

// keyFilter renders "key in r" for a column reference c (a quoted,
// possibly qualified column). Integer keys (int32, int64,
// timespan ticks) compare directly, which uses the column's index; other
// key types compare the fleetplan_key encoding. The whole range still
// excludes NULL keys.
func keyFilter(c string, r fleet.KeyRange) (string, []any, error) {
	kind := r.Low
	if kind == nil {
		kind = r.High
	}
	if kind == nil {
		return c + " IS NOT NULL", nil, nil
	}
	var conds []string
	var args []any
	if _, ok := intKey(kind); ok {
		conds = append(conds, c+" IS NOT NULL")
		for _, b := range []struct {
			v  any
			op string
		}{{r.Low, ">="}, {r.High, "<"}} {
			if b.v == nil {
				continue
			}
			n, ok := intKey(b.v)
			if !ok {
				return "", nil, fmt.Errorf("%w: key range %s mixes value types", fleet.ErrInvalidArgument, r)
			}
			conds = append(conds, c+" "+b.op+" ?")
			args = append(args, n)
		}
		return strings.Join(conds, " AND "), args, nil
	}
	kt, err := keyTypeOf(kind)
	if err != nil {
		return "", nil, err
	}
	expr := fmt.Sprintf("fleetplan_key(%d, %s)", int(kt), c)
	conds = append(conds, expr+" IS NOT NULL")
	for _, b := range []struct {
		v  any
		op string
	}{{r.Low, ">="}, {r.High, "<"}} {
		if b.v == nil {
			continue
		}
		enc, err := shardkey.Encode(kt, b.v)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, expr+" "+b.op+" ?")
		args = append(args, keyArg(enc))
	}
	return strings.Join(conds, " AND "), args, nil
}

// intKey reports the integer of an integer-like key value.
func intKey(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case shardkey.TimeSpan:
		return int64(x), true
	}
	return 0, false
}

func keyTypeOf(v any) (fleet.KeyType, error) {
	switch v.(type) {
	case uuid.UUID:
		return fleet.KeyGuid, nil
	case []byte:
		return fleet.KeyBinary, nil
	case time.Time:
		return fleet.KeyDateTime, nil
	case shardkey.DateTimeOffset:
		return fleet.KeyDateTimeOffset, nil
	}
	return 0, fmt.Errorf("%w: unsupported key value %T", fleet.ErrInvalidArgument, v)
}

// Tables implements fleet.DataMover.
func (t *Target) Tables(ctx context.Context, loc fleet.Location) ([]fleet.TableInfo, error) {
	db, err := t.readDB(ctx, loc)
	if err != nil {
		return nil, err
	}
	return tablesOf(ctx, t.pq(db), loc)
}

func tablesOf(ctx context.Context, q querier, loc fleet.Location) ([]fleet.TableInfo, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_\_ShardManagement\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, sqlErr("list tables", loc, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]fleet.TableInfo, 0, len(names))
	for _, n := range names {
		ti, err := tableInfo(ctx, q, loc, n)
		if err != nil {
			return nil, err
		}
		out = append(out, ti)
	}
	return out, nil
}

// tableInfo describes table name of the main database (not an attached one).
func tableInfo(ctx context.Context, q querier, loc fleet.Location, name string) (fleet.TableInfo, error) {
	return tableInfoIn(ctx, q, loc, "main", name)
}

// tableInfoIn describes table name of the database schema ("main", "src").
func tableInfoIn(ctx context.Context, q querier, loc fleet.Location, schema, name string) (fleet.TableInfo, error) {
	ti := fleet.TableInfo{Name: name}
	rows, err := q.QueryContext(ctx, `SELECT name, type, pk FROM pragma_table_info(?, ?) ORDER BY cid`, name, schema)
	if err != nil {
		return ti, sqlErr("describe table "+name, loc, err)
	}
	pk := map[int]string{}
	for rows.Next() {
		var col, typ string
		var pos int
		if err := rows.Scan(&col, &typ, &pos); err != nil {
			rows.Close()
			return ti, err
		}
		ti.Columns = append(ti.Columns, col)
		ti.ColumnTypes = append(ti.ColumnTypes, typ)
		if pos > 0 {
			pk[pos] = col
		}
	}
	rows.Close()
	for i := 1; i <= len(pk); i++ {
		ti.PrimaryKey = append(ti.PrimaryKey, pk[i])
	}
	rows, err = q.QueryContext(ctx, `SELECT id, "table", "from", coalesce("to", '') FROM pragma_foreign_key_list(?, ?) ORDER BY id, seq`, name, schema)
	if err != nil {
		return ti, sqlErr("describe table "+name, loc, err)
	}
	defer rows.Close()
	last := -1
	for rows.Next() {
		var id int
		var parent, from, to string
		if err := rows.Scan(&id, &parent, &from, &to); err != nil {
			return ti, err
		}
		if id != last {
			ti.ForeignKeys = append(ti.ForeignKeys, fleet.ForeignKey{Table: parent})
			last = id
		}
		fk := &ti.ForeignKeys[len(ti.ForeignKeys)-1]
		fk.From = append(fk.From, from)
		fk.To = append(fk.To, to)
	}
	return ti, rows.Err()
}

// CountRange implements fleet.DataMover.
func (t *Target) CountRange(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (int64, error) {
	db, err := t.readDB(ctx, loc)
	if err != nil {
		return 0, err
	}
	where, args, err := keyFilter(quoteIdent(keyCol), r)
	if err != nil {
		return 0, &fleet.Error{Op: "count rows", Target: loc.String(), Err: err}
	}
	var n int64
	err = t.pq(db).QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(table)+` WHERE `+where, args...).Scan(&n)
	return n, sqlErr("count rows of "+table, loc, err)
}

// NextBound implements fleet.DataMover. It reads at most n+1 distinct keys
// of each table (in key order, through the key's index when there is one),
// so its cost depends on n, not on the size of the range.
func (t *Target) NextBound(ctx context.Context, loc fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange, n int) (any, error) {
	if n <= 0 {
		return nil, &fleet.Error{Op: "next bound", Target: loc.String(), Err: fmt.Errorf("%w: batch size %d", fleet.ErrInvalidArgument, n)}
	}
	if len(tables) == 0 {
		return r.High, nil
	}
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, err
	}
	kind := r.Low
	if kind == nil {
		kind = r.High
	}
	_, isInt := intKey(kind)
	var kt fleet.KeyType
	if kind != nil && !isInt {
		if kt, err = keyTypeOf(kind); err != nil {
			return nil, &fleet.Error{Op: "next bound", Target: loc.String(), Err: err}
		}
	}
	var parts []string
	var args []any
	for _, tb := range tables {
		where, a, err := keyFilter(quoteIdent(tb.KeyColumn), r)
		if err != nil {
			return nil, &fleet.Error{Op: "next bound", Target: loc.String(), Err: err}
		}
		expr := quoteIdent(tb.KeyColumn)
		if kt != 0 {
			expr = fmt.Sprintf("fleetplan_key(%d, %s)", int(kt), expr)
		}
		parts = append(parts, fmt.Sprintf(`SELECT k FROM (SELECT DISTINCT %s AS k FROM %s WHERE %s ORDER BY k LIMIT ?)`,
			expr, quoteIdent(tb.Table), where))
		args = append(append(args, a...), n+1)
	}
	q := `SELECT k FROM (` + strings.Join(parts, " UNION ") + `) ORDER BY k LIMIT 1 OFFSET ?`
	args = append(args, n)
	var k any
	err = t.pq(db).QueryRowContext(ctx, q, args...).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return r.High, nil // fewer than n+1 keys remain
	}
	if err != nil {
		return nil, sqlErr("next bound", loc, err)
	}
	if kt != 0 {
		b, _ := k.([]byte)
		if b == nil {
			b = []byte{}
		}
		return shardkey.Decode(kt, b)
	}
	switch v := k.(type) {
	case int64:
		switch kind.(type) {
		case int32:
			return int32(v), nil
		case shardkey.TimeSpan:
			return shardkey.TimeSpan(v), nil
		}
		return v, nil
	}
	return nil, &fleet.Error{Op: "next bound", Target: loc.String(), Err: fmt.Errorf("key column holds %T values, not integers", k)}
}

func columnList(cols []string, prefix string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = prefix + quoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// CopyRange implements fleet.DataMover: one dst transaction with the source
// attached read-only; per table INSERT .. SELECT of the rows in r that dst
// does not have yet (by primary key, or by every column for tables without
// one). The fault point move.copy is hit before the commit.
func (t *Target) CopyRange(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (map[string]int64, error) {
	const what = "copy range"
	tx, done, err := t.attachTx(ctx, src, dst, what)
	if err != nil {
		return nil, err
	}
	defer done()
	out := map[string]int64{}
	for _, tb := range tables {
		c, err := describeCopy(ctx, tx, dst, what, tb, r)
		if err != nil {
			return nil, err
		}
		if out[tb.Table], err = c.insert(ctx, tx); err != nil {
			return nil, err
		}
	}
	if err := faults.HitOn("move.copy", dst.String()); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, sqlErr(what, dst, err)
	}
	return out, nil
}

// CopyRangeVerified implements fleet.VerifiedCopier: CopyRange's
// transaction, which first counts the target's rows in r that are no copy of
// a source row (and copies nothing when there are any), and after the copy
// sums both ranges as Checksum does, the source in the snapshot the copy
// read. It commits only when every table's count and checksum agree. The
// fault point move.checksum is hit before each sum, move.copy before the
// commit.
func (t *Target) CopyRangeVerified(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (fleet.CopyReport, error) {
	const what = "copy range"
	rep := fleet.CopyReport{Copied: map[string]int64{}, Rows: map[string]int64{}}
	tx, done, err := t.attachTx(ctx, src, dst, what)
	if err != nil {
		return rep, err
	}
	defer done()
	copies := make([]tableCopy, len(tables))
	for i, tb := range tables {
		if copies[i], err = describeCopy(ctx, tx, dst, what, tb, r); err != nil {
			return rep, err
		}
		if others, err := copies[i].foreign(ctx, tx); err != nil {
			return rep, err
		} else if others > 0 {
			if rep.Foreign == nil {
				rep.Foreign = map[string]int64{}
			}
			rep.Foreign[tb.Table] = others
		}
	}
	if len(rep.Foreign) > 0 {
		return rep, nil
	}
	for _, c := range copies {
		if rep.Copied[c.tb.Table], err = c.insert(ctx, tx); err != nil {
			return rep, err
		}
	}
	for _, c := range copies {
		srcInfo, err := tableInfoIn(ctx, tx, dst, "src", c.tb.Table)
		if err != nil {
			return rep, err
		}
		if rep.Rows[c.tb.Table], err = c.verify(ctx, tx, src, srcInfo, rep.Copied[c.tb.Table]); err != nil {
			return rep, err
		}
	}
	if err := faults.HitOn("move.copy", dst.String()); err != nil {
		return rep, err
	}
	if err := tx.Commit(); err != nil {
		return rep, sqlErr(what, dst, err)
	}
	return rep, nil
}

// tableCopy is the copy of one table's range, on a dst connection with the
// source attached as "src".
type tableCopy struct {
	tb      fleet.ShardedTable
	r       fleet.KeyRange
	ti      fleet.TableInfo // of the target's table
	where   string          // the range, on the source's rows (s.)
	args    []any
	present bool // the target's range holds rows already
	dst     fleet.Location
	what    string
}

// describeCopy describes the target's table and checks whether its range
// holds rows already (the usual case, an empty range, needs no per-row probe).
func describeCopy(ctx context.Context, tx querier, dst fleet.Location, what string, tb fleet.ShardedTable, r fleet.KeyRange) (tableCopy, error) {
	c := tableCopy{tb: tb, r: r, dst: dst, what: what}
	var err error
	if c.ti, err = tableInfo(ctx, tx, dst, tb.Table); err != nil {
		return c, err
	}
	if len(c.ti.Columns) == 0 {
		return c, &fleet.Error{Op: what, Target: dst.String(), Err: fmt.Errorf("%w: table %s does not exist on the target", fleet.ErrInvalidArgument, tb.Table),
			Hint: "create the shard's schema before moving data into it"}
	}
	if c.where, c.args, err = keyFilter("s."+quoteIdent(tb.KeyColumn), r); err != nil {
		return c, &fleet.Error{Op: what, Target: dst.String(), Err: err}
	}
	var present int
	if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM main.%s AS s WHERE %s)`, quoteIdent(tb.Table), c.where), c.args...).Scan(&present); err != nil {
		return c, sqlErr(what+" "+tb.Table, dst, err)
	}
	c.present = present == 1
	return c, nil
}

// insert copies the source's rows of the range that the target lacks (by
// primary key, or by every column for tables without one).
func (c tableCopy) insert(ctx context.Context, tx querier) (int64, error) {
	table := quoteIdent(c.tb.Table)
	q := fmt.Sprintf(`INSERT INTO main.%s (%s) SELECT %s FROM src.%s AS s WHERE %s`,
		table, columnList(c.ti.Columns, ""), columnList(c.ti.Columns, "s."), table, c.where)
	if c.present {
		match := c.ti.PrimaryKey
		if len(match) == 0 {
			match = c.ti.Columns
		}
		eq := make([]string, len(match))
		for i, col := range match {
			eq[i] = "d." + quoteIdent(col) + " IS s." + quoteIdent(col)
		}
		q += fmt.Sprintf(` AND NOT EXISTS (SELECT 1 FROM main.%s AS d WHERE %s)`, table, strings.Join(eq, " AND "))
	}
	res, err := tx.ExecContext(ctx, q, c.args...)
	if err != nil {
		return 0, sqlErr(c.what+" "+c.tb.Table, c.dst, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// verify proves, inside the copy's transaction, that the target's range
// holds exactly the source's rows, and returns their number. When both
// tables have the same columns and primary key, and no source row of the
// range has a NULL in its key, it compares the rows themselves: every
// source row has a target row equal in every column (same value, same
// storage class, compared byte for byte) and both ranges hold as many rows.
// Source rows are distinct by their key, so that is a one-to-one match, a
// proof at the price of one pass over the source and the target's key
// index. Otherwise it compares counts and checksums, as Checksum does.
func (c tableCopy) verify(ctx context.Context, tx querier, src fleet.Location, srcInfo fleet.TableInfo, copied int64) (int64, error) {
	if sameShape(srcInfo, c.ti) {
		if err := faults.HitOn("move.checksum", src.String()); err != nil {
			return 0, err
		}
		eq := make([]string, 0, len(c.ti.PrimaryKey)+len(c.ti.Columns))
		var nullKey []string
		for _, k := range c.ti.PrimaryKey {
			eq = append(eq, "d."+quoteIdent(k)+" = s."+quoteIdent(k))
			nullKey = append(nullKey, "s."+quoteIdent(k)+" IS NULL")
		}
		for i, col := range c.ti.Columns {
			d, s := "d."+quoteIdent(col), "s."+quoteIdent(col)
			eq = append(eq, d+" IS "+s+" COLLATE BINARY")
			if aff := affinity(c.ti.ColumnTypes[i]); aff == "" || aff == "BLOB" {
				// Only a column without affinity can hold 5 and 5.0 apart,
				// which IS finds equal.
				eq = append(eq, "typeof("+d+") = typeof("+s+")")
			}
		}
		table := quoteIdent(c.tb.Table)
		var sn, missing, nulls int64
		err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*), coalesce(sum(NOT EXISTS (SELECT 1 FROM main.%s AS d WHERE %s)), 0),
			coalesce(sum(%s), 0) FROM src.%s AS s WHERE %s`, table, strings.Join(eq, " AND "), strings.Join(nullKey, " OR "), table, c.where),
			c.args...).Scan(&sn, &missing, &nulls)
		if err != nil {
			return 0, sqlErr("verify "+c.tb.Table, c.dst, err)
		}
		if nulls == 0 {
			if err := faults.HitOn("move.checksum", c.dst.String()); err != nil {
				return 0, err
			}
			var dn int64
			if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM main.%s AS s WHERE %s`, table, c.where), c.args...).Scan(&dn); err != nil {
				return 0, sqlErr("verify "+c.tb.Table, c.dst, err)
			}
			if sn != dn || missing > 0 {
				return 0, fleet.CopyMismatch(c.r, c.dst, c.tb.Table,
					fmt.Sprintf("source has %d rows, target %d, and %d source rows have no equal row on the target", sn, dn, missing), copied)
			}
			return sn, nil
		}
	}
	sn, ssum, err := rangeSum(ctx, tx, src, "src.", srcInfo, c.tb.KeyColumn, c.r)
	if err != nil {
		return 0, err
	}
	dn, dsum, err := rangeSum(ctx, tx, c.dst, "main.", c.ti, c.tb.KeyColumn, c.r)
	if err != nil {
		return 0, err
	}
	if sn != dn || ssum != dsum {
		return 0, fleet.CopyMismatch(c.r, c.dst, c.tb.Table, sumsText(sn, ssum, dn, dsum), copied)
	}
	return sn, nil
}

// sumsText describes differing counts and checksums of a source and a target.
func sumsText(sn int64, ssum string, dn int64, dsum string) string {
	return fmt.Sprintf("source has %d rows (checksum %s), target %d (checksum %s)", sn, ssum, dn, dsum)
}

// sameShape reports whether two descriptions of a table have the same
// columns in the same order, with the same affinity, and the same,
// non-empty, primary key.
func sameShape(a, b fleet.TableInfo) bool {
	same := func(x, y []string, eq func(x, y string) bool) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !eq(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	sameAffinity := func(x, y string) bool { return affinity(x) == affinity(y) }
	return len(a.PrimaryKey) > 0 && len(a.ColumnTypes) == len(a.Columns) && same(a.Columns, b.Columns, strings.EqualFold) &&
		same(a.ColumnTypes, b.ColumnTypes, sameAffinity) && same(a.PrimaryKey, b.PrimaryKey, strings.EqualFold)
}

// foreign counts the target's rows in the range that have no equal row on
// the source (CompareRange's Others).
func (c tableCopy) foreign(ctx context.Context, tx querier) (int64, error) {
	if !c.present {
		return 0, nil
	}
	where, args, err := keyFilter("d."+quoteIdent(c.tb.KeyColumn), c.r)
	if err != nil {
		return 0, &fleet.Error{Op: c.what, Target: c.dst.String(), Err: err}
	}
	var n int64
	err = tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM main.%s AS d WHERE %s AND NOT %s`,
		quoteIdent(c.tb.Table), where, sameRow(c.tb.Table, c.ti.Columns)), args...).Scan(&n)
	return n, sqlErr(c.what+" "+c.tb.Table, c.dst, err)
}

// Checksum implements fleet.DataMover: count(*) and fleetplan_rowsum over
// every column of the rows in r. The fault point move.checksum is hit first.
func (t *Target) Checksum(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (int64, string, error) {
	if err := faults.HitOn("move.checksum", loc.String()); err != nil {
		return 0, "", err
	}
	db, err := t.readDB(ctx, loc)
	if err != nil {
		return 0, "", err
	}
	q := t.pq(db)
	ti, err := tableInfo(ctx, q, loc, table)
	if err != nil {
		return 0, "", err
	}
	return sumRange(ctx, q, loc, "", ti, keyCol, r)
}

// rangeSum is Checksum of the table ti of the database schema prefix
// ("src.", "main.") on a connection that has both; it hits the fault point
// move.checksum first.
func rangeSum(ctx context.Context, q querier, loc fleet.Location, prefix string, ti fleet.TableInfo, keyCol string, r fleet.KeyRange) (int64, string, error) {
	if err := faults.HitOn("move.checksum", loc.String()); err != nil {
		return 0, "", err
	}
	return sumRange(ctx, q, loc, prefix, ti, keyCol, r)
}

func sumRange(ctx context.Context, q querier, loc fleet.Location, prefix string, ti fleet.TableInfo, keyCol string, r fleet.KeyRange) (int64, string, error) {
	if len(ti.Columns) == 0 {
		return 0, "", &fleet.Error{Op: "checksum", Target: loc.String(), Err: fmt.Errorf("%w: no table %s", fleet.ErrInvalidArgument, ti.Name)}
	}
	where, args, err := keyFilter(quoteIdent(keyCol), r)
	if err != nil {
		return 0, "", &fleet.Error{Op: "checksum", Target: loc.String(), Err: err}
	}
	var n int64
	var sum sql.NullString
	err = q.QueryRowContext(ctx, `SELECT count(*), fleetplan_rowsum(`+columnList(ti.Columns, "")+`) FROM `+prefix+quoteIdent(ti.Name)+` WHERE `+where, args...).Scan(&n, &sum)
	if err != nil {
		return 0, "", sqlErr("checksum "+ti.Name, loc, err)
	}
	if !sum.Valid || n == 0 {
		sum.String = strings.Repeat("0", 64)
	}
	return n, sum.String, nil
}

// DeleteRange implements fleet.DataMover: one transaction, tables in the
// order given (children first). The fault point move.delete is hit before
// the commit.
func (t *Target) DeleteRange(ctx context.Context, loc fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (int64, error) {
	const what = "delete range"
	db, err := t.db(ctx, loc)
	if err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, sqlErr(what, loc, err)
	}
	defer tx.Rollback()
	return deleteEach(ctx, ptx{tx, t.stmts(db)}, loc, what, tables, func(tb fleet.ShardedTable) (string, []any, error) {
		where, args, err := keyFilter(quoteIdent(tb.KeyColumn), r)
		return `DELETE FROM ` + quoteIdent(tb.Table) + ` WHERE ` + where, args, err
	})
}

// committer is a transaction: *sql.Tx, or a ptx whose statements run prepared.
type committer interface {
	querier
	Commit() error
}

// deleteEach runs one DELETE per table (children first) in tx, hits the
// fault point move.delete and commits; it returns the rows deleted. A table
// whose statement is "" is skipped.
func deleteEach(ctx context.Context, tx committer, loc fleet.Location, what string, tables []fleet.ShardedTable,
	stmt func(fleet.ShardedTable) (string, []any, error)) (int64, error) {
	var total int64
	for _, tb := range tables {
		q, args, err := stmt(tb)
		if err != nil {
			var fe *fleet.Error
			if errors.As(err, &fe) {
				return 0, err
			}
			return 0, &fleet.Error{Op: what, Target: loc.String(), Err: err}
		}
		if q == "" {
			continue
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, sqlErr(what+" "+tb.Table, loc, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if err := faults.HitOn("move.delete", loc.String()); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, sqlErr(what, loc, err)
	}
	return total, nil
}

// CopyTableIfEmpty implements fleet.DataMover. The emptiness check and the
// copy are one dst transaction. The fault point move.reference is hit
// before the commit.
func (t *Target) CopyTableIfEmpty(ctx context.Context, src, dst fleet.Location, table string) (int64, error) {
	const what = "copy reference table"
	tx, done, err := t.attachTx(ctx, src, dst, what)
	if err != nil {
		return 0, err
	}
	defer done()
	ti, err := tableInfo(ctx, tx, dst, table)
	if err != nil {
		return 0, err
	}
	if len(ti.Columns) == 0 {
		return 0, &fleet.Error{Op: what, Target: dst.String(), Err: fmt.Errorf("%w: table %s does not exist on the target", fleet.ErrInvalidArgument, table),
			Hint: "create the shard's schema before copying reference data into it"}
	}
	var any int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM main.`+quoteIdent(table)+` LIMIT 1)`).Scan(&any); err != nil {
		return 0, sqlErr(what, dst, err)
	}
	if any > 0 {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO main.%s (%s) SELECT %s FROM src.%s`,
		quoteIdent(table), columnList(ti.Columns, ""), columnList(ti.Columns, ""), quoteIdent(table)))
	if err != nil {
		return 0, sqlErr(what+" "+table, dst, err)
	}
	n, _ := res.RowsAffected()
	if err := faults.HitOn("move.reference", dst.String()); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, sqlErr(what, dst, err)
	}
	return n, nil
}

// sameRow renders "a row of src.table equal in every column to d", for the
// columns of the destination's table.
func sameRow(table string, cols []string) string {
	eq := make([]string, len(cols))
	for i, c := range cols {
		eq[i] = "s." + quoteIdent(c) + " IS d." + quoteIdent(c)
	}
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM src.%s AS s WHERE %s)`, quoteIdent(table), strings.Join(eq, " AND "))
}

// CompareRange implements fleet.DataMover: with src attached read-only, one
// pass over dst's rows in r, each probed for an equal row in src.
func (t *Target) CompareRange(ctx context.Context, src, dst fleet.Location, table, keyCol string, r fleet.KeyRange) (out fleet.RangeComparison, err error) {
	const what = "compare range"
	conn, release, err := t.attach(ctx, src, dst)
	if err != nil {
		return out, err
	}
	defer func() { release(err == nil) }()
	ti, err := tableInfo(ctx, conn, dst, table)
	if err != nil {
		return out, err
	}
	if len(ti.Columns) == 0 {
		return out, &fleet.Error{Op: what, Target: dst.String(), Err: fmt.Errorf("%w: table %s does not exist on the target", fleet.ErrInvalidArgument, table)}
	}
	where, args, err := keyFilter("d."+quoteIdent(keyCol), r)
	if err != nil {
		return out, &fleet.Error{Op: what, Target: dst.String(), Err: err}
	}
	q := fmt.Sprintf(`SELECT count(*), coalesce(sum(%s), 0) FROM main.%s AS d WHERE %s`, sameRow(table, ti.Columns), quoteIdent(table), where)
	var n int64
	if err := conn.QueryRowContext(ctx, q, args...).Scan(&n, &out.Copies); err != nil {
		return out, sqlErr(what+" "+table, dst, err)
	}
	out.Others = n - out.Copies
	return out, nil
}

// DeleteCopies implements fleet.DataMover: one dst transaction with src
// attached read-only; per table (children first) a DELETE of the rows in r
// that have an equal row in src. The fault point move.delete is hit before
// the commit.
func (t *Target) DeleteCopies(ctx context.Context, src, dst fleet.Location, tables []fleet.ShardedTable, r fleet.KeyRange) (int64, error) {
	const what = "delete copied rows"
	tx, done, err := t.attachTx(ctx, src, dst, what)
	if err != nil {
		return 0, err
	}
	defer done()
	return deleteEach(ctx, tx, dst, what, tables, func(tb fleet.ShardedTable) (string, []any, error) {
		ti, err := tableInfo(ctx, tx, dst, tb.Table)
		if err != nil || len(ti.Columns) == 0 {
			return "", nil, err
		}
		where, args, err := keyFilter("d."+quoteIdent(tb.KeyColumn), r)
		return fmt.Sprintf(`DELETE FROM main.%s AS d WHERE %s AND %s`, quoteIdent(tb.Table), where, sameRow(tb.Table, ti.Columns)), args, err
	})
}
