package sqlserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// EnvTestServer names the SQL Server the server-backed suites run against:
// a URL such as sqlserver://sa:PASSWORD@localhost:1433?TrustServerCertificate=true
// (docs/sqlserver.md). Unset, those suites are skipped and say why.
const EnvTestServer = "FLEETPLAN_TEST_SQLSERVER"

// testServer returns the test server's settings, or skips the test.
func testServer(t *testing.T) *url.URL {
	t.Helper()
	raw := os.Getenv(EnvTestServer)
	if raw == "" {
		t.Skip(EnvTestServer + " is not set: this suite needs a SQL Server (or Azure SQL) it may create databases on, " +
			"and none runs on this machine; docs/sqlserver.md shows how to start one in a container and run it")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "sqlserver" || u.Host == "" {
		t.Fatalf("%s must be a sqlserver://user:password@host:port URL", EnvTestServer)
	}
	return u
}

// testTarget creates a fresh database on the test server to serve as a
// shard map manager, plus extra empty databases, and opens a target on it;
// everything is dropped when the test ends.
func testTarget(t *testing.T, extra ...string) (*Target, []fleet.Location) {
	t.Helper()
	u := testServer(t)
	ctx := context.Background()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	prefix := "fp_" + hex.EncodeToString(suffix) + "_"
	pw, _ := u.User.Password()
	opts := map[string]string{"server": u.Hostname(), "port": u.Port(), "database": prefix + "smm",
		"auth.user": u.User.Username(), "auth.password": pw}
	q := u.Query()
	for k := range q {
		switch strings.ToLower(k) {
		case "trustservercertificate":
			opts["trustServerCertificate"] = q.Get(k)
		case "encrypt":
			opts["encrypt"] = q.Get(k)
		case "fedauth":
			opts["fedauth"] = q.Get(k)
		}
	}
	if opts["port"] == "" {
		delete(opts, "port")
	}
	cfg, err := ParseConfig(fleet.TargetConfig{Name: "test", Driver: DriverName, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	tg := newTarget(cfg)
	var locs []fleet.Location
	for _, name := range append([]string{"smm"}, extra...) {
		loc := fleet.Location{Server: cfg.Server, Database: prefix + name}
		if err := tg.CreateDatabase(ctx, loc); err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
	}
	t.Cleanup(func() {
		for _, loc := range locs {
			if err := tg.DropDatabase(context.Background(), loc); err != nil {
				t.Logf("drop %s: %v", loc, err)
			}
		}
		tg.Close()
	})
	if err := tg.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	return tg, locs[1:]
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
