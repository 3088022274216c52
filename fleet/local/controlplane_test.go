package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// newContoso creates a fleet holding only the contoso demo app, with
// modelled durations taking no time.
func newContoso(t *testing.T) *Target {
	t.Helper()
	ctx := context.Background()
	tg, err := Init(ctx, t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.SetTimeScale(0)
	if err := createContosoDemo(ctx, tg); err != nil {
		t.Fatal(err)
	}
	return tg
}

var (
	stagingLoc = fleet.Location{Server: "contoso-2", Database: "contoso"}
	drLoc      = fleet.Location{Server: ContosoDRServer, Database: "contoso"}
)

func schemaVersion(t *testing.T, tg *Target, loc fleet.Location) int64 {
	t.Helper()
	return count(t, tg, loc, `SELECT max(version) FROM schema_version`)
}

func TestContosoDemo(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	if n := count(t, tg, ContosoLocation, `SELECT count(*) FROM accounts`); n != ContosoAccounts {
		t.Errorf("%d accounts, want %d", n, ContosoAccounts)
	}
	if v := schemaVersion(t, tg, ContosoLocation); v != 1 {
		t.Errorf("schema_version %d, want 1", v)
	}
	info, err := tg.Database(ctx, ContosoLocation)
	if err != nil {
		t.Fatal(err)
	}
	if info.Region != ContosoRegion || info.Role != fleet.RoleStandalone || !info.Writable() {
		t.Errorf("contoso database: %+v", info)
	}
	e, s, err := tg.ServingEndpoint(ctx, ContosoProfile)
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != ContosoEndpoint || s.Version != ContosoVersion || !s.Database.Equal(ContosoLocation) {
		t.Errorf("serving %+v slot %+v", e, s)
	}
}

func TestReadOnlyRefusesEveryWrite(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	if err := tg.SetReadOnly(ctx, ContosoLocation, true); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"ApplySQL": func() error {
			return tg.ApplySQL(ctx, ContosoLocation, `UPDATE accounts SET plan = 'free'`)
		},
		"RunScript": func() error {
			_, err := tg.RunScript(ctx, ContosoLocation, `UPDATE schema_version SET version = 2`)
			return err
		},
		"a raw connection": func() error {
			db, err := tg.db(ctx, ContosoLocation)
			if err != nil {
				return err
			}
			_, err = db.Exec(`DELETE FROM invoices`)
			return sqlErr("delete", ContosoLocation, err)
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			err := write()
			if !errors.Is(err, fleet.ErrReadOnly) {
				t.Fatalf("want a read-only error, got %v", err)
			}
			if fleet.HintOf(err) == "" {
				t.Errorf("read-only error without a hint: %v", err)
			}
		})
	}
	if n := count(t, tg, ContosoLocation, `SELECT count(*) FROM invoices`); n != ContosoAccounts*ContosoInvoices {
		t.Errorf("reads of a read-only database: %d invoices", n)
	}
	if err := tg.SetReadOnly(ctx, ContosoLocation, false); err != nil {
		t.Fatal(err)
	}
	if err := tg.ApplySQL(ctx, ContosoLocation, `UPDATE accounts SET plan = 'free' WHERE id = 1`); err != nil {
		t.Fatalf("write after set read-write: %v", err)
	}
}

func TestSeedTimeline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		size          int64
		scale         float64
		seeded, total time.Duration
	}{
		"instant":                {size: 1 << 30, scale: 0},
		"floors on a small db":   {size: 1 << 20, scale: 1.0 / 3600, seeded: minSeeding, total: minSeeding + minCatchUp},
		"220 GB unscaled is 1h":  {size: 220e9, scale: 1, seeded: time.Hour, total: time.Hour + 3*time.Minute},
		"220 GB at 1/3600 is 1s": {size: 220e9, scale: 1.0 / 3600, seeded: time.Second, total: time.Second + minCatchUp},
		"catch-up at least 30s":  {size: 22e9, scale: 1, seeded: 6 * time.Minute, total: 6*time.Minute + 30*time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, h := seedTimeline(tc.size, tc.scale, start)
			if d := s.Sub(start) - tc.seeded; d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("seeded after %s, want %s", s.Sub(start), tc.seeded)
			}
			if d := h.Sub(start) - tc.total; d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("healthy after %s, want %s", h.Sub(start), tc.total)
			}
		})
	}
}

func TestLinkStateDerivation(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := linkRow{Link: fleet.Link{Created: created, SeededAt: created.Add(10 * time.Second), HealthyAt: created.Add(12 * time.Second)},
		scale: 0.5, timed: true}
	cases := map[string]struct {
		at      time.Duration
		state   fleet.LinkState
		percent int
		lag     float64
	}{
		"start":       {0, fleet.LinkSeeding, 0, 24},
		"half seeded": {5 * time.Second, fleet.LinkSeeding, 50, 14},
		"catching up": {11 * time.Second, fleet.LinkCatchingUp, 100, 2},
		"healthy":     {12 * time.Second, fleet.LinkHealthy, 100, 0},
		"long after":  {time.Hour, fleet.LinkHealthy, 100, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			x := r
			x.derive(created.Add(tc.at))
			if x.State != tc.state || x.PercentDone != tc.percent || x.LagSeconds != tc.lag {
				t.Errorf("got %s %d%% lag %v, want %s %d%% lag %v", x.State, x.PercentDone, x.LagSeconds, tc.state, tc.percent, tc.lag)
			}
		})
	}
}

func TestCreateSecondaryWhileWritten(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	// A writer keeps inserting invoices while the secondary is seeded.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var written atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := tg.ApplySQL(ctx, ContosoLocation, `INSERT INTO invoices(account_id, amount, issued_at) VALUES(1, 1.5, '2026-01-01');
				INSERT INTO invoices(account_id, amount, issued_at) VALUES(2, 2.5, '2026-01-01')`); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			written.Add(2)
		}
	}()
	for written.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	l, err := tg.CreateSecondary(ctx, ContosoLocation, stagingLoc, "")
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !l.Primary.Equal(ContosoLocation) || !l.Secondary.Equal(stagingLoc) || l.State != fleet.LinkHealthy || l.LagSeconds != 0 {
		t.Errorf("link %+v", l)
	}
	// The copy is one consistent moment: both invoices of a transaction or neither.
	n := count(t, tg, stagingLoc, `SELECT count(*) FROM invoices WHERE issued_at = '2026-01-01'`)
	if n%2 != 0 || n < 20 {
		t.Errorf("secondary holds %d of the concurrent invoices (want an even number >= 20)", n)
	}
	if c := count(t, tg, stagingLoc, `SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'`); c != 0 {
		t.Errorf("secondary fails integrity_check")
	}
	info, err := tg.Database(ctx, stagingLoc)
	if err != nil {
		t.Fatal(err)
	}
	if info.Role != fleet.RoleSecondary || info.Writable() || info.Region != ContosoRegion || !info.Origin.Equal(ContosoLocation) {
		t.Errorf("secondary %+v", info)
	}
	if err := tg.ApplySQL(ctx, stagingLoc, `DELETE FROM invoices`); !errors.Is(err, fleet.ErrReadOnly) {
		t.Errorf("a write to the secondary: want read-only, got %v", err)
	}
	again, err := tg.CreateSecondary(ctx, ContosoLocation, stagingLoc, "")
	if err != nil || again.ID != l.ID {
		t.Errorf("second CreateSecondary: %+v, %v; want the same link %s", again, err, l.ID)
	}
}

func TestCreateSecondaryRefusals(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		prepare   func(t *testing.T, tg *Target)
		secondary fleet.Location
		region    string
		want      error
	}{
		"same server": {secondary: fleet.Location{Server: ContosoServer, Database: "contoso_copy"}, want: fleet.ErrInvalidArgument},
		"an unrelated database is there": {
			prepare: func(t *testing.T, tg *Target) {
				if err := tg.CreateDatabase(ctx, stagingLoc); err != nil {
					t.Fatal(err)
				}
			},
			secondary: stagingLoc, want: fleet.ErrConflict,
		},
		"server in another region": {secondary: drLoc, region: "north", want: fleet.ErrConflict},
		"no primary":               {secondary: stagingLoc, want: fleet.ErrNoDatabase},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg := newContoso(t)
			if tc.prepare != nil {
				tc.prepare(t, tg)
			}
			primary := ContosoLocation
			if tc.want == fleet.ErrNoDatabase {
				primary = fleet.Location{Server: ContosoServer, Database: "nope"}
			}
			_, err := tg.CreateSecondary(ctx, primary, tc.secondary, tc.region)
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}
}

func TestChainedReplicationAndDisconnect(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	if _, err := tg.CreateSecondary(ctx, ContosoLocation, stagingLoc, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.CreateSecondary(ctx, stagingLoc, drLoc, ""); err != nil {
		t.Fatal(err)
	}
	dr, err := tg.Database(ctx, drLoc)
	if err != nil {
		t.Fatal(err)
	}
	if dr.Region != ContosoDRRegion || dr.Role != fleet.RoleSecondary {
		t.Errorf("chained secondary %+v", dr)
	}
	// Writes to the primary reach both secondaries.
	if _, err := tg.RunScript(ctx, ContosoLocation, `INSERT INTO accounts(id, name, email, plan, created_at) VALUES(5000, 'x', 'x@x', 'free', 'now')`); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []fleet.Location{stagingLoc, drLoc} {
		if n := count(t, tg, loc, `SELECT count(*) FROM accounts WHERE id = 5000`); n != 1 {
			t.Errorf("%s did not receive the write", loc)
		}
	}
	// Freeze, disconnect: the copy is independent, read-only like its primary.
	if err := tg.SetReadOnly(ctx, ContosoLocation, true); err != nil {
		t.Fatal(err)
	}
	if err := tg.Disconnect(ctx, stagingLoc); err != nil {
		t.Fatal(err)
	}
	if err := tg.Disconnect(ctx, stagingLoc); err != nil {
		t.Fatalf("second disconnect: %v", err)
	}
	st, err := tg.Database(ctx, stagingLoc)
	if err != nil {
		t.Fatal(err)
	}
	if st.Role != fleet.RolePrimary || !st.ReadOnly || !st.Origin.Equal(ContosoLocation) {
		t.Errorf("disconnected copy %+v", st)
	}
	if _, err := tg.LinkTo(ctx, stagingLoc); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("link after disconnect: %v", err)
	}
	// Upgrade the copy: the chained secondary follows, production does not.
	if err := tg.SetReadOnly(ctx, stagingLoc, false); err != nil {
		t.Fatal(err)
	}
	script := `UPDATE schema_version SET version = 2; ALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL DEFAULT 'standard';`
	applied, err := tg.RunScript(ctx, stagingLoc, script)
	if err != nil || !applied {
		t.Fatalf("RunScript: %v, %v", applied, err)
	}
	applied, err = tg.RunScript(ctx, stagingLoc, script)
	if err != nil || applied {
		t.Fatalf("RunScript again: applied %v, %v; want a no-op", applied, err)
	}
	if ok, err := tg.ScriptApplied(ctx, stagingLoc, script); err != nil || !ok {
		t.Errorf("ScriptApplied: %v, %v", ok, err)
	}
	for loc, want := range map[fleet.Location]int64{ContosoLocation: 1, stagingLoc: 2, drLoc: 2} {
		if v := schemaVersion(t, tg, loc); v != want {
			t.Errorf("%s: schema_version %d, want %d", loc, v, want)
		}
	}
	// Removing: the staging primary has a secondary still.
	if err := tg.RemoveDatabase(ctx, stagingLoc); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("removing a primary with a secondary: %v", err)
	}
	for _, loc := range []fleet.Location{drLoc, stagingLoc, drLoc} {
		if err := tg.RemoveDatabase(ctx, loc); err != nil {
			t.Fatalf("remove %s: %v", loc, err)
		}
	}
	links, err := tg.Links(ctx)
	if err != nil || len(links) != 0 {
		t.Errorf("links left: %+v, %v", links, err)
	}
}

func TestDisconnectNeedsHealthyLink(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	tg.SetTimeScale(1000) // seeding takes far longer than the test
	l, err := tg.CreateSecondary(ctx, ContosoLocation, stagingLoc, "")
	if err != nil {
		t.Fatal(err)
	}
	if l.State != fleet.LinkSeeding || l.LagSeconds <= 0 {
		t.Errorf("new link %+v, want seeding with a lag", l)
	}
	if err := tg.Disconnect(ctx, stagingLoc); !errors.Is(err, fleet.ErrConflict) || fleet.HintOf(err) == "" {
		t.Errorf("disconnect while seeding: %v", err)
	}
	if err := tg.Disconnect(ctx, ContosoLocation); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("disconnect of a database that never was a secondary: %v", err)
	}
}

func TestFailingScriptKeepsNothing(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	_, err := tg.RunScript(ctx, ContosoLocation, `UPDATE schema_version SET version = 2; CREATE TABLE t2(x); INSERT INTO nope VALUES(1);`)
	if err == nil || errors.Is(err, fleet.ErrReadOnly) {
		t.Fatalf("want a script error, got %v", err)
	}
	if v := schemaVersion(t, tg, ContosoLocation); v != 1 {
		t.Errorf("schema_version %d after a failed script", v)
	}
	if n := count(t, tg, ContosoLocation, `SELECT count(*) FROM sqlite_master WHERE name IN ('t2', ?)`, scriptsTable); n != 0 {
		t.Errorf("a failed script left %d tables", n)
	}
}

func TestTrafficManager(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	if _, err := tg.CreateSecondary(ctx, ContosoLocation, stagingLoc, ""); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeploySlot(ctx, fleet.Slot{Name: "contoso-2", Version: "2", Database: stagingLoc}); err != nil {
		t.Fatal(err)
	}
	e, err := tg.AddEndpoint(ctx, fleet.Endpoint{Profile: ContosoProfile, Name: "contoso-2", Target: "contoso-2"})
	if err != nil || e.Priority != 2 || e.Online {
		t.Fatalf("AddEndpoint: %+v, %v", e, err)
	}
	if _, err := tg.AddEndpoint(ctx, fleet.Endpoint{Profile: ContosoProfile, Name: "contoso-2", Target: "contoso-2", Online: true}); err != nil {
		t.Errorf("adding the same endpoint again: %v", err)
	}
	if _, err := tg.AddEndpoint(ctx, fleet.Endpoint{Profile: ContosoProfile, Name: "contoso-2", Target: "elsewhere"}); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("same endpoint, other slot: %v", err)
	}
	serving := func() string {
		t.Helper()
		p, err := tg.Profile(ctx, ContosoProfile)
		if err != nil {
			t.Fatal(err)
		}
		return p.Serving
	}
	if s := serving(); s != "contoso-1" {
		t.Fatalf("serving %q before the switch", s)
	}
	if err := tg.RemoveEndpoint(ctx, ContosoProfile, "contoso-1"); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("removing the serving endpoint: %v", err)
	}
	if err := tg.RemoveSlot(ctx, ContosoSlot); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("removing the serving slot: %v", err)
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := tg.SwitchTraffic(ctx, ContosoProfile, "contoso-1", "contoso-2"); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := tg.Profile(ctx, ContosoProfile)
	if p.Serving != "contoso-2" || p.Endpoints[0].Name != "contoso-2" || p.Endpoints[0].Priority != 1 || p.Endpoints[1].Online {
		t.Errorf("after the switch: %+v", p)
	}
	// Back again while V1 exists.
	if err := tg.SwitchTraffic(ctx, ContosoProfile, "contoso-2", "contoso-1"); err != nil {
		t.Fatal(err)
	}
	if s := serving(); s != "contoso-1" {
		t.Errorf("serving %q after switching back", s)
	}
	if err := tg.SwitchTraffic(ctx, ContosoProfile, "contoso-1", "contoso-2"); err != nil {
		t.Fatal(err)
	}
	// Once V1's slot is gone, switching back is refused with the reason.
	if err := tg.RemoveSlot(ctx, ContosoSlot); err != nil {
		t.Fatal(err)
	}
	err = tg.SwitchTraffic(ctx, ContosoProfile, "contoso-2", "contoso-1")
	if !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("switch back to a removed slot: %v", err)
	}
	if s := serving(); s != "contoso-2" {
		t.Errorf("a refused switch changed routing: serving %q", s)
	}
	if err := tg.SwitchTraffic(ctx, ContosoProfile, "contoso-2", "nope"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("switch to an unknown endpoint: %v", err)
	}
}

// TestStrayFileAtSecondaryPlace: a file the catalog does not list is
// someone's data; CreateSecondary refuses to overwrite it and RemoveDatabase
// (a rollback's cleanup of an interrupted copy) leaves it alone.
func TestStrayFileAtSecondaryPlace(t *testing.T) {
	ctx := context.Background()
	tg := newContoso(t)
	stray := fleet.Location{Server: "contoso-2", Database: "contoso"}
	p := tg.pathOf(stray)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("someone's data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.CreateSecondary(ctx, ContosoLocation, stray, ""); !errors.Is(err, fleet.ErrConflict) {
		t.Fatalf("CreateSecondary over a stray file: %v, want ErrConflict", err)
	}
	if err := tg.RemoveDatabase(ctx, stray); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "someone's data" {
		t.Fatalf("the stray file was touched: %q %v", b, err)
	}
}
