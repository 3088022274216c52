package fleet

import "database/sql"

// RowScanner is what a row scan needs of *sql.Row and *sql.Rows.
type RowScanner = interface{ Scan(...any) error }

// ScanAll reads every row of a query with scan, closing the rows. It takes the
// query's error too, so a driver writes ScanAll(db.QueryContext(...)) in one
// call.
func ScanAll[T any](rows *sql.Rows, err error, scan func(RowScanner) (*T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}
