package sqlserver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net/url"
	"sync"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
	mssql "github.com/microsoft/go-mssqldb"
)

// fakeServer is a server behind a database/sql driver of this test: it
// has databases, counts the existence lookups run in its master, and
// fails a login to a database it does not have with 4060, as SQL Server
// does.
type fakeServer struct {
	mu        sync.Mutex
	dbs       map[string]bool
	lookups   int
	failLogin bool // every login fails with 18456
}

const fakeDriverName = "fleetplan-test-fake-sqlserver"

var fakeSrv = &fakeServer{}

func init() { sql.Register(fakeDriverName, fakeDriver{fakeSrv}) }

func (s *fakeServer) reset(dbs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs, s.lookups, s.failLogin = map[string]bool{}, 0, false
	for _, d := range dbs {
		s.dbs[d] = true
	}
}

func (s *fakeServer) set(db string, exists bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs[db] = exists
}

func (s *fakeServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

type fakeDriver struct{ srv *fakeServer }

func (d fakeDriver) Open(dsn string) (driver.Conn, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	db := u.Query().Get("database")
	d.srv.mu.Lock()
	defer d.srv.mu.Unlock()
	switch {
	case d.srv.failLogin:
		return nil, mssql.Error{Number: errLoginFailed, Message: "Login failed"}
	case db != "master" && !d.srv.dbs[db]:
		return nil, mssql.Error{Number: errCannotOpenDatabase, Message: "Cannot open database requested by the login"}
	}
	return &fakeConn{srv: d.srv, db: db}, nil
}

type fakeConn struct {
	srv *fakeServer
	db  string
}

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fake: no prepare") }
func (c *fakeConn) Close() error                        { return nil }

// Begin fails as a session of a database dropped under it does.
func (c *fakeConn) Begin() (driver.Tx, error) {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if !c.srv.dbs[c.db] {
		return nil, mssql.Error{Number: errCannotOpenDatabase, Message: "Cannot open database"}
	}
	return fakeTx{}, nil
}

func (c *fakeConn) QueryContext(_ context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if query != DatabaseQuery || c.db != "master" || len(args) != 1 {
		return nil, errors.New("fake: unexpected query " + query)
	}
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	c.srv.lookups++
	name, _ := args[0].Value.(string)
	return &fakeRows{left: map[bool]int{true: 1}[c.srv.dbs[name]]}, nil
}

type fakeTx struct{}

func (fakeTx) Commit() error   { return nil }
func (fakeTx) Rollback() error { return nil }

// fakeRows is DatabaseQuery's answer: left rows of is_read_only = 0.
type fakeRows struct{ left int }

func (r *fakeRows) Columns() []string { return []string{"is_read_only"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.left == 0 {
		return io.EOF
	}
	r.left--
	dest[0] = false
	return nil
}

// TestShardDBLookups counts the existence lookups ShardDB runs in master:
// one per database however many connections are routed to it, again
// after a connection fails saying the database is not there (4060, at
// login or on an open session) or the target drops it, and not after
// another error.
func TestShardDBLookups(t *testing.T) {
	fakeSrv.reset("shard0", "shard1")
	cfg, err := ParseConfig(target(map[string]string{"auth.user": "u", "auth.password": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	tg := newTarget(cfg)
	tg.driverName = fakeDriverName
	defer tg.Close()
	ctx := context.Background()
	s0 := fleet.Location{Server: cfg.Server, Database: "shard0"}
	s1 := fleet.Location{Server: cfg.Server, Database: "shard1"}
	shardDB := func(loc fleet.Location) (*sql.DB, error) {
		t.Helper()
		return tg.ShardDB(ctx, loc)
	}
	mustDB := func(loc fleet.Location) *sql.DB {
		t.Helper()
		db, err := shardDB(loc)
		if err != nil {
			t.Fatalf("ShardDB(%s): %v", loc, err)
		}
		return db
	}
	lookups := func(want int, when string) {
		t.Helper()
		if got := fakeSrv.count(); got != want {
			t.Fatalf("%s: %d lookups in master, want %d", when, got, want)
		}
	}

	for range 50 {
		mustDB(s0)
		mustDB(s1)
	}
	lookups(2, "100 routed connections to 2 databases")

	// The database goes away behind fleetplan: the next login fails with
	// 4060, and ShardDB asks again (only for that database).
	db := mustDB(s0)
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fakeSrv.set("shard0", false)
	if _, err := db.Conn(ctx); !hasNumber(err, errCannotOpenDatabase) {
		t.Fatalf("a new connection to a dropped database: %v, want 4060", err)
	}
	if _, err := shardDB(s0); !errors.Is(err, fleet.ErrNoDatabase) {
		t.Fatalf("ShardDB of a dropped database: %v, want ErrNoDatabase", err)
	}
	mustDB(s1)
	lookups(3, "after a 4060 at login")

	// Back again: one lookup, then the cache.
	fakeSrv.set("shard0", true)
	for range 10 {
		mustDB(s0)
	}
	lookups(4, "after the database came back")

	// A session of the pool finds its database gone when it begins a
	// routed transaction.
	fresh, err := mustDB(s0).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	fakeSrv.set("shard0", false)
	m := fleet.ShardMap{ID: uuid.New(), Name: "M", Type: fleet.RangeMap, KeyType: fleet.KeyInt32}
	if _, err := tg.BeginRoutedTx(ctx, fresh, nil, m, s0, fleet.Mapping{ID: uuid.New()}); !hasNumber(err, errCannotOpenDatabase) {
		t.Fatalf("BeginRoutedTx on a dropped database: %v, want 4060", err)
	}
	if _, err := shardDB(s0); !errors.Is(err, fleet.ErrNoDatabase) {
		t.Fatalf("ShardDB after a 4060 on a session: %v, want ErrNoDatabase", err)
	}
	lookups(5, "after a 4060 on an open session")

	// Another error says nothing of the database.
	fakeSrv.mu.Lock()
	fakeSrv.failLogin = true
	fakeSrv.mu.Unlock()
	if _, err := mustDB(s1).Conn(ctx); !hasNumber(err, errLoginFailed) {
		t.Fatalf("want the login failure, got %v", err)
	}
	mustDB(s1)
	lookups(5, "after a failed login")

	// The target's own drop forgets the database too.
	tg.closePool(s1)
	fakeSrv.mu.Lock()
	fakeSrv.failLogin = false
	fakeSrv.mu.Unlock()
	mustDB(s1)
	lookups(6, "after the target closed the database's pool")
}
