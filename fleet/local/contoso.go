package local

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// The demo's application for rolling upgrades (DOMAIN.md §2): the contoso app
// at V1 in region west, a backup-region server, one traffic-manager profile.
const (
	ContosoServer   = "contoso-1"
	ContosoRegion   = "west"
	ContosoDRServer = "contoso-dr"
	ContosoDRRegion = "east"
	ContosoDatabase = "contoso"
	ContosoSlot     = "contoso-1"
	ContosoProfile  = "contoso"
	ContosoEndpoint = "contoso-1"
	ContosoVersion  = "1"
	ContosoAccounts = 1000
	ContosoInvoices = 3 // per account
)

// ContosoSchemaSQL is the V1 schema of the contoso database.
const ContosoSchemaSQL = `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  email      TEXT NOT NULL UNIQUE,
  plan       TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  amount     REAL NOT NULL,
  issued_at  TEXT NOT NULL
);
`

// ContosoLocation is the demo app's V1 database.
var ContosoLocation = fleet.Location{Server: ContosoServer, Database: ContosoDatabase}

// createContosoDemo adds the contoso app to a new demo fleet: servers
// contoso-1 (west) and contoso-dr (east), the database contoso on contoso-1
// with accounts, invoices and schema_version at 1, the app slot contoso-1 at
// version 1, and the traffic-manager profile contoso whose endpoint
// contoso-1 is online.
func createContosoDemo(ctx context.Context, t *Target) error {
	if err := t.cpInit(ctx); err != nil {
		return err
	}
	err := t.catalogTx(ctx, func(tx *sql.Tx) error {
		for _, s := range [][2]string{{ContosoServer, ContosoRegion}, {ContosoDRServer, ContosoDRRegion}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO servers(name, region, created_at) VALUES(?, ?, ?)
				ON CONFLICT(name) DO UPDATE SET region = excluded.region`, s[0], s[1], nowText()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return &fleet.Error{Op: "create contoso demo", Target: t.dir, Err: err}
	}
	loc := ContosoLocation
	if err := t.CreateDatabase(ctx, loc); err != nil {
		return err
	}
	db, err := t.db(ctx, loc)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr("fill contoso", loc, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, ContosoSchemaSQL); err != nil {
		return sqlErr("fill contoso", loc, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version(version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM schema_version)`); err != nil {
		return sqlErr("fill contoso", loc, err)
	}
	r := rand.New(rand.NewPCG(2, 5))
	plansOf := []string{"free", "team", "business", "enterprise"}
	for id := 1; id <= ContosoAccounts; id++ {
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		created := epoch.Add(time.Duration(r.Int64N(3*365*24*3600)) * time.Second)
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO accounts(id, name, email, plan, created_at) VALUES(?, ?, ?, ?, ?)`,
			id, first+" "+last, fmt.Sprintf("user%d@contoso.example", id), plansOf[r.IntN(len(plansOf))], created.Format(time.RFC3339)); err != nil {
			return sqlErr("fill contoso", loc, err)
		}
		for j := 0; j < ContosoInvoices; j++ {
			at := created.Add(time.Duration(r.Int64N(365*24*3600)) * time.Second)
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO invoices(id, account_id, amount, issued_at) VALUES(?, ?, ?, ?)`,
				id*ContosoInvoices+j, id, float64(500+r.IntN(200_000))/100, at.Format(time.RFC3339)); err != nil {
				return sqlErr("fill contoso", loc, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return sqlErr("fill contoso", loc, err)
	}
	// Fold the WAL into the file so a copy of the .db file alone is complete.
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return sqlErr("checkpoint", loc, err)
	}
	if err := t.DeploySlot(ctx, fleet.Slot{Name: ContosoSlot, Version: ContosoVersion, Database: loc}); err != nil {
		return err
	}
	_, err = t.AddEndpoint(ctx, fleet.Endpoint{Profile: ContosoProfile, Name: ContosoEndpoint, Target: ContosoSlot, Online: true, Priority: 1})
	return err
}
