package sqlserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// recoverySecret is the planted recovery password; no output may hold it
// either.
const recoverySecret = "R3c0very;Pl@nted/=?&%"

// A target opened for recovery connects with its recoveryAuth; opened for
// anything else it ignores it and connects with auth.
func TestRecoveryAuthPicksTheConnection(t *testing.T) {
	opts := map[string]string{"auth.user": "fleetplan", "auth.password": plantedSecret,
		"recoveryAuth.user": "fleetplan_recovery", "recoveryAuth.password": recoverySecret}
	shard := fleet.Location{Server: "sql-2.database.windows.net", Database: "customers_0"}
	for mode, want := range map[fleet.OpenMode]string{fleet.OpenForPlans: "fleetplan", fleet.OpenForDiagnosis: "fleetplan", fleet.OpenForRecovery: "fleetplan_recovery"} {
		cfg := target(opts)
		cfg.Mode = mode
		c, err := ParseConfig(cfg)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		dsn := c.DSN(shard)
		if !strings.HasPrefix(dsn, "sqlserver://"+want+":") {
			t.Errorf("mode %d: DSN %s, want user %s", mode, c.RedactedDSN(shard), want)
		}
		if pw := map[bool]string{true: "R3c0very", false: "Pl%40nted"}[want == "fleetplan_recovery"]; !strings.Contains(dsn, pw) {
			t.Errorf("mode %d: the DSN does not carry the %s password", mode, want)
		}
		if got := c.Credentials; got != map[bool]string{true: "recoveryAuth", false: "auth"}[want == "fleetplan_recovery"] {
			t.Errorf("mode %d: credentials from %q", mode, got)
		}
		assertNoSecret(t, "redacted DSN", c.RedactedDSN(shard))
		if strings.Contains(c.RedactedDSN(shard), "R3c0very") {
			t.Errorf("mode %d: the redacted DSN holds the recovery secret", mode)
		}
	}
	// Recovery credentials are checked like auth's: a user without a password is refused.
	cfg := target(map[string]string{"auth.user": "fleetplan", "auth.password": plantedSecret, "recoveryAuth.user": "fleetplan_recovery"})
	cfg.Mode = fleet.OpenForRecovery
	_, err := ParseConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), "recoveryAuth.user and recoveryAuth.password") {
		t.Fatalf("recoveryAuth without a password: %v", err)
	}
	for _, s := range []string{err.Error(), fleet.HintOf(err)} {
		assertNoSecret(t, "config error", s)
	}
}

// Opened for recovery against servers that fail, the planted recovery and
// auth secrets are in no text the failure produces.
func TestRecoveryOpenNeverShowsTheSecrets(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()
	cfg := target(map[string]string{"server": "127.0.0.1", "port": port, "connectTimeout": "3s", "encrypt": "disable",
		"auth.user": "fleetplan", "auth.password": plantedSecret, "recoveryAuth.user": "fleetplan_recovery", "recoveryAuth.password": recoverySecret})
	cfg.Mode = fleet.OpenForRecovery
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tg, err := fleet.Open(ctx, cfg)
	if err == nil {
		tg.Close()
		t.Fatal("opened a server that is not there")
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fleet.HintOf(err)} {
		assertNoSecret(t, "open error", s)
		for _, form := range []string{recoverySecret, "R3c0very"} {
			if strings.Contains(s, form) {
				t.Errorf("open error holds the recovery secret (%q)", form)
			}
		}
	}
}
