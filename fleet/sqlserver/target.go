package sqlserver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	_ "github.com/microsoft/go-mssqldb"         // driver "sqlserver"
	_ "github.com/microsoft/go-mssqldb/azuread" // driver "azuresql" (fedauth=)
)

func init() {
	fleet.Register(DriverName, func(ctx context.Context, cfg fleet.TargetConfig) (fleet.Target, error) {
		return Open(ctx, cfg)
	})
}

// Compile-time checks of the capabilities the driver offers.
var (
	_ fleet.Target = (*Target)(nil)
	_ fleet.Locker = (*Target)(nil)
)

// Target is an opened SQL Server fleet: the shard map manager database and
// a connection pool per database it reaches. Safe for concurrent use.
type Target struct {
	cfg Config
	red *redactor

	mu  sync.Mutex
	dbs map[string]*sql.DB // by poolKey
	// driverName is the database/sql driver the pools use
	// (Config.DriverName; a test's fake).
	driverName string
	// exists holds the databases ShardDB found on their server, by
	// poolKey, so a routed connection asks master only the first time;
	// an error saying a database is not there drops its entry (forget).
	// existsGen counts the drops, so an answer read before one is not
	// kept after it.
	exists    map[string]bool
	existsGen uint64

	storeMu sync.Mutex
	store   *storeInfo // what Ping found, nil before
}

// storeInfo is the shard map manager database's state.
type storeInfo struct {
	deployed     bool // __ShardManagement.ShardMapManagerGlobal exists
	major, minor int
	// library: the Elastic Database library's stored procedures are there
	// (the library created the shard map manager), so writes go through them.
	library bool
}

// Open opens a target and checks the shard map manager database: it must be
// reachable, and a shard map store in it must be of store version 1.x.
func Open(ctx context.Context, tc fleet.TargetConfig) (*Target, error) {
	cfg, err := ParseConfig(tc)
	if err != nil {
		return nil, err
	}
	t := newTarget(cfg)
	if err := t.Ping(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func newTarget(cfg Config) *Target {
	return &Target{cfg: cfg, red: newRedactor(cfg.Secrets()...), dbs: map[string]*sql.DB{},
		driverName: cfg.DriverName(), exists: map[string]bool{}}
}

// Name implements fleet.Target.
func (t *Target) Name() string { return t.cfg.Name }

// Driver implements fleet.Target.
func (t *Target) Driver() string { return DriverName }

// ShardMapManager is the shard map manager database.
func (t *Target) ShardMapManager(context.Context) (fleet.Location, error) { return t.cfg.SMM(), nil }

// Close closes every pool. Safe to call twice.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for k, db := range t.dbs {
		errs = append(errs, db.Close())
		delete(t.dbs, k)
	}
	return errors.Join(errs...)
}

// db returns the pool of a database, opening it on first use. sql.Open
// does not connect, so this never fails for a database that is down.
func (t *Target) db(loc fleet.Location) (*sql.DB, error) {
	key := poolKey(loc)
	t.mu.Lock()
	defer t.mu.Unlock()
	if db, ok := t.dbs[key]; ok {
		return db, nil
	}
	db, err := openWatched(t.driverName, t.cfg.DSN(loc), func(err error) {
		if databaseMissing(err) {
			t.forget(loc)
		}
	})
	if err != nil {
		return nil, t.red.wrap("open database", loc.String(), err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	t.dbs[key] = db
	return db, nil
}

// poolKey is a database's key in Target.dbs and Target.exists.
func poolKey(loc fleet.Location) string { return strings.ToLower(loc.Server + "/" + loc.Database) }

// openWatched opens a pool as sql.Open does, with onConnectErr called
// with every error of opening one of its connections (where a login to a
// database that is gone fails).
func openWatched(driverName, dsn string, onConnectErr func(error)) (*sql.DB, error) {
	probe, err := sql.Open(driverName, dsn) // does not connect
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	_ = probe.Close()
	var c driver.Connector = dsnConnector{drv: drv, dsn: dsn}
	if dc, ok := drv.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	}
	return sql.OpenDB(watchedConnector{Connector: c, onErr: onConnectErr}), nil
}

// dsnConnector is the connector of a driver without one of its own (the
// azuresql driver), as database/sql makes it.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// watchedConnector reports the errors of Connect.
type watchedConnector struct {
	driver.Connector
	onErr func(error)
}

func (c watchedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		c.onErr(err)
	}
	return conn, err
}

// Close closes the connector when it holds anything (sql.DB.Close calls it).
func (c watchedConnector) Close() error {
	if cl, ok := c.Connector.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// master is the master database of a server (ALTER DATABASE, the
// geo-replication and operation-status views live there).
func master(server string) fleet.Location { return fleet.Location{Server: server, Database: "master"} }

// storeVersionSQL reads what CheckShardMapManagerGlobal reads: the store
// version (the 1.0 layout's single StoreVersion column or the 1.1+
// StoreVersionMajor/Minor) and whether the library's procedures exist.
const storeVersionSQL = `IF OBJECT_ID(N'__ShardManagement.ShardMapManagerGlobal', N'U') IS NULL
	SELECT CAST(0 AS bit), 0, 0, CAST(0 AS bit)
ELSE IF COL_LENGTH(N'__ShardManagement.ShardMapManagerGlobal', N'StoreVersion') IS NOT NULL
	EXEC(N'SELECT CAST(1 AS bit), StoreVersion, 0, CAST(CASE WHEN OBJECT_ID(N''__ShardManagement.spBulkOperationShardMappingsGlobalBegin'', N''P'') IS NULL THEN 0 ELSE 1 END AS bit) FROM __ShardManagement.ShardMapManagerGlobal')
ELSE
	EXEC(N'SELECT CAST(1 AS bit), StoreVersionMajor, StoreVersionMinor, CAST(CASE WHEN OBJECT_ID(N''__ShardManagement.spBulkOperationShardMappingsGlobalBegin'', N''P'') IS NULL THEN 0 ELSE 1 END AS bit) FROM __ShardManagement.ShardMapManagerGlobal')`

// Ping implements fleet.Target: it connects to the shard map manager
// database and checks its store version.
func (t *Target) Ping(ctx context.Context) error {
	info, err := t.readStore(ctx)
	if err != nil {
		return err
	}
	return checkStoreVersion(t.cfg.SMM(), info)
}

func (t *Target) readStore(ctx context.Context) (*storeInfo, error) {
	db, err := t.db(t.cfg.SMM())
	if err != nil {
		return nil, err
	}
	var info storeInfo
	err = db.QueryRowContext(ctx, storeVersionSQL).Scan(&info.deployed, &info.major, &info.minor, &info.library)
	if errors.Is(err, sql.ErrNoRows) { // a version table without its row
		info = storeInfo{deployed: true, major: -1}
		err = nil
	}
	if err != nil {
		return nil, t.red.wrap("open shard map manager", t.cfg.SMM().String(), err)
	}
	t.storeMu.Lock()
	t.store = &info
	t.storeMu.Unlock()
	return &info, nil
}

// checkStoreVersion refuses a store whose major version is not 1, as every
// library procedure does (result 51).
func checkStoreVersion(smm fleet.Location, info *storeInfo) error {
	if !info.deployed || info.major == elasticdb.StoreVersionMajor {
		return nil
	}
	return &fleet.Error{Op: "open shard map manager", Target: smm.String(),
		Err:  fmt.Errorf("%w: store version %d.%d, fleetplan reads and writes version %d.x", fleet.ErrStoreVersion, info.major, info.minor, elasticdb.StoreVersionMajor),
		Hint: "upgrade the shard map manager with the Elastic Database library (ShardMapManager.UpgradeGlobalStore) or use a fleetplan that supports this version"}
}
