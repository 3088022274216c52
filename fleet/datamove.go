package fleet

import (
	"context"
	"fmt"
	"strings"
)

// ForeignKey is one foreign key of a table (columns in order).
type ForeignKey struct {
	Table string   `json:"table"` // the referenced (parent) table
	From  []string `json:"from"`  // columns of the child
	To    []string `json:"to"`    // columns of the parent
}

// TableInfo describes one user table of a database.
type TableInfo struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	// ColumnTypes are the declared types of Columns, in the same order;
	// empty when the driver cannot tell.
	ColumnTypes []string     `json:"columnTypes,omitempty"`
	PrimaryKey  []string     `json:"primaryKey"`
	ForeignKeys []ForeignKey `json:"foreignKeys"`
}

// ColumnType returns the declared type of a column (case-insensitive
// name); ok is false when the table has no such column.
func (t TableInfo) ColumnType(name string) (typ string, ok bool) {
	for i, c := range t.Columns {
		if strings.EqualFold(c, name) {
			if i < len(t.ColumnTypes) {
				return t.ColumnTypes[i], true
			}
			return "", true
		}
	}
	return "", false
}

// KeyRange is a half-open range of typed key values [Low, High): int32,
// int64, uuid.UUID, []byte, ... as package shardkey decodes them. Low nil is
// -inf, High nil is +inf.
type KeyRange struct {
	Low  any
	High any
}

func (r KeyRange) String() string {
	lo, hi := "-inf", "+inf"
	if r.Low != nil {
		lo = fmt.Sprint(r.Low)
	}
	if r.High != nil {
		hi = fmt.Sprint(r.High)
	}
	return "[" + lo + ", " + hi + ")"
}

// DataMover moves shardlet rows between databases. Everything streams:
// memory stays flat whatever the row count. Errors are *Error; transient ones
// (IsTransient) are worth retrying because every method is safe to re-run.
type DataMover interface {
	// Tables lists the user tables of a database (no internal tables), with
	// columns, primary key and foreign keys, ordered by name.
	Tables(ctx context.Context, loc Location) ([]TableInfo, error)
	// CountRange counts the rows of table whose keyCol is in r.
	CountRange(ctx context.Context, loc Location, table, keyCol string, r KeyRange) (int64, error)
	// NextBound returns the key value b such that [r.Low, b) holds about n
	// distinct key values across the given sharded tables (keys may be
	// sparse); b = r.High when fewer remain (nil for +inf). n must be > 0.
	NextBound(ctx context.Context, loc Location, tables []ShardedTable, r KeyRange, n int) (any, error)
	// CopyRange copies the rows in r of each table, in the order given
	// (parents first), from src to dst in one dst transaction, and returns
	// the rows copied per table. Idempotent: rows already on dst (same
	// primary key) are not duplicated; callers verify with Checksum.
	CopyRange(ctx context.Context, src, dst Location, tables []ShardedTable, r KeyRange) (map[string]int64, error)
	// Checksum returns the row count and an order-independent checksum of
	// the full rows of table whose keyCol is in r. Equal data gives equal
	// sums in any two databases.
	Checksum(ctx context.Context, loc Location, table, keyCol string, r KeyRange) (count int64, sum string, err error)
	// DeleteRange deletes the rows in r of each table, in the order given
	// (children first), in one transaction, and returns the rows deleted.
	// Idempotent.
	DeleteRange(ctx context.Context, loc Location, tables []ShardedTable, r KeyRange) (int64, error)
	// CopyTableIfEmpty copies a whole (reference) table from src to dst when
	// the dst table is empty; otherwise it copies nothing and returns 0.
	CopyTableIfEmpty(ctx context.Context, src, dst Location, table string) (copied int64, err error)
	// CompareRange sorts the rows of table in r on dst into copies (a row
	// with every column equal exists in the same range on src) and others
	// (no such row on src). A move uses it to tell the rows it copied from
	// rows it must never touch.
	CompareRange(ctx context.Context, src, dst Location, table, keyCol string, r KeyRange) (RangeComparison, error)
	// DeleteCopies deletes, in one dst transaction and in the order given
	// (children first), only the rows in r on dst that are copies of a row
	// on src (every column equal), and returns the rows deleted. Rows that
	// are not copies are left untouched. Idempotent.
	DeleteCopies(ctx context.Context, src, dst Location, tables []ShardedTable, r KeyRange) (int64, error)
}

// VerifiedCopier is a DataMover that copies a range and verifies the copy
// in the same destination transaction, reading the source in one consistent
// snapshot: nothing is committed unless the target range then holds exactly
// the source range's rows (equal counts and checksums per table), so a move
// need not read both ranges again afterwards.
type VerifiedCopier interface {
	// CopyRangeVerified copies as CopyRange does, then sums the range of
	// each table on both databases. When the target range holds rows that
	// are not copies of a source row (Foreign in the report, per table),
	// or the sums differ after the copy, it commits nothing: the first
	// is a report, the second an error.
	CopyRangeVerified(ctx context.Context, src, dst Location, tables []ShardedTable, r KeyRange) (CopyReport, error)
}

// CopyReport is what CopyRangeVerified did, per table.
type CopyReport struct {
	Copied  map[string]int64 // rows inserted
	Rows    map[string]int64 // rows of the range, equal on both databases after the copy
	Foreign map[string]int64 // target rows that are not copies of a source row; nothing was copied when any
}

// CopyMismatch is the error of a copy whose target range does not hold the
// source range's rows: what differs in table after copying copied rows.
func CopyMismatch(r KeyRange, dst Location, table, differs string, copied int64) error {
	return &Error{Op: "verify batch " + r.String(), Target: dst.String(),
		Err:  fmt.Errorf("table %s: %s after copying %d", table, differs, copied),
		Hint: "something writes to the target range; the mapping stays offline on the source until this is resolved"}
}

// RangeComparison is what CompareRange found on the destination.
type RangeComparison struct {
	Copies int64 // rows equal to a row of the source range
	Others int64 // rows the source range does not have
}

// SortTables orders tables parents-first using their foreign keys, keeping
// the given order where the keys allow it. Keys to tables not in the list and
// self-references are ignored; a cycle is an error.
func SortTables(tables []TableInfo) ([]TableInfo, error) {
	index := map[string]int{}
	for i, t := range tables {
		index[strings.ToLower(t.Name)] = i
	}
	deps := make([]map[int]bool, len(tables)) // child -> parents
	for i, t := range tables {
		deps[i] = map[int]bool{}
		for _, fk := range t.ForeignKeys {
			if p, ok := index[strings.ToLower(fk.Table)]; ok && p != i {
				deps[i][p] = true
			}
		}
	}
	done := make([]bool, len(tables))
	out := make([]TableInfo, 0, len(tables))
	for len(out) < len(tables) {
		progressed := false
		for i := range tables {
			if done[i] {
				continue
			}
			ready := true
			for p := range deps[i] {
				if !done[p] {
					ready = false
					break
				}
			}
			if ready {
				done[i] = true
				out = append(out, tables[i])
				progressed = true
			}
		}
		if !progressed {
			var cyc []string
			for i := range tables {
				if !done[i] {
					cyc = append(cyc, tables[i].Name)
				}
			}
			return nil, fmt.Errorf("%w: foreign keys form a cycle among %s", ErrInvalidArgument, strings.Join(cyc, ", "))
		}
	}
	return out, nil
}
