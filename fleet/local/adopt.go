package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"github.com/fleetplan/fleetplan/fleet"
)

var _ fleet.DatabaseAdopter = (*Target)(nil)

func unlistedErr(op string, loc fleet.Location, p string) error {
	return &fleet.Error{Op: op, Target: loc.String(),
		Err:  fmt.Errorf("%w: %s exists but the fleet catalog does not list it", fleet.ErrDatabaseExists, p),
		Hint: "to take it over as it is, set `adopt: true` on its shard; otherwise move the file away or pick another database name"}
}

// unlisted returns the file of a database the catalog does not list, when
// that file exists; "" otherwise.
func (t *Target) unlisted(ctx context.Context, loc fleet.Location) (string, error) {
	_, p, err := t.resolve(ctx, loc)
	if err == nil || !errors.Is(err, fleet.ErrNoDatabase) {
		return "", nil
	}
	if checkLocation(loc) != nil {
		return "", nil
	}
	if _, err := os.Stat(p); err != nil {
		return "", nil
	}
	return p, nil
}

// readDB returns a pool for reading a database: the catalog's, or a
// query_only pool on a file the catalog does not list, so that a plan can
// see what such a database holds before anything takes it over.
func (t *Target) readDB(ctx context.Context, loc fleet.Location) (*sql.DB, error) {
	p, err := t.unlisted(ctx, loc)
	if err != nil || p == "" {
		return t.db(ctx, loc)
	}
	if err := checkSQLiteFile(p); err != nil {
		return nil, &fleet.Error{Op: "open database", Target: loc.String(), Err: err, Hint: "the file is not an SQLite database; move it away"}
	}
	return t.readOnlyDB(loc, p)
}

// InspectDatabase implements fleet.DatabaseAdopter.
func (t *Target) InspectDatabase(ctx context.Context, loc fleet.Location) (fleet.DatabaseContents, error) {
	var c fleet.DatabaseContents
	canon, p, err := t.resolve(ctx, loc)
	switch {
	case err == nil:
		c.Listed = true
	case !errors.Is(err, fleet.ErrNoDatabase):
		return c, err
	case checkLocation(loc) != nil:
		return c, nil
	}
	if _, err := os.Stat(p); err != nil {
		return c, nil
	}
	c.Exists = true
	db, err := t.readDB(ctx, canon)
	if err != nil {
		return c, err
	}
	tables, err := tablesOf(ctx, db, canon)
	if err != nil {
		return c, err
	}
	for _, ti := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(ti.Name)).Scan(&n); err != nil {
			return c, sqlErr("count rows of "+ti.Name, canon, err)
		}
		c.Tables = append(c.Tables, fleet.TableRows{Name: ti.Name, Rows: n})
	}
	return c, nil
}

// ReleaseDatabase implements fleet.DatabaseAdopter: the catalog entry goes,
// the file stays. It refuses the shard map manager database.
func (t *Target) ReleaseDatabase(ctx context.Context, loc fleet.Location) error {
	return t.forget(ctx, loc, "release database", false)
}

// AdoptDatabase implements fleet.DatabaseAdopter: it lists an existing
// SQLite file in the catalog, contents untouched.
func (t *Target) AdoptDatabase(ctx context.Context, loc fleet.Location) error {
	if err := checkLocation(loc); err != nil {
		return &fleet.Error{Op: "adopt database", Target: loc.String(), Err: err}
	}
	_, p, err := t.resolve(ctx, loc)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fleet.ErrNoDatabase) {
		return err
	}
	if _, err := os.Stat(p); err != nil {
		return &fleet.Error{Op: "adopt database", Target: loc.String(), Err: fmt.Errorf("%w: no file %s", fleet.ErrNoDatabase, p),
			Hint: "adopt takes over an existing database; without one, leave adopt out and the shard's database is created"}
	}
	if err := checkSQLiteFile(p); err != nil {
		return &fleet.Error{Op: "adopt database", Target: loc.String(), Err: err, Hint: "the file is not an SQLite database; move it away"}
	}
	if err := t.list(ctx, loc, "adopt database"); err != nil {
		return err
	}
	// A query_only pool opened while the file was unlisted is not reused.
	t.closePools(p)
	return nil
}
