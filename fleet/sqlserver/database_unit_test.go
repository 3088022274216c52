package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

func TestStoreVersionCheck(t *testing.T) {
	smm := fleet.Location{Server: "s", Database: "smm"}
	for name, tc := range map[string]struct {
		info storeInfo
		ok   bool
	}{
		"no store yet":                    {storeInfo{}, true},
		"1.2":                             {storeInfo{deployed: true, major: 1, minor: 2, library: true}, true},
		"1.0 (one column)":                {storeInfo{deployed: true, major: 1}, true},
		"2.0":                             {storeInfo{deployed: true, major: 2}, false},
		"a version table without its row": {storeInfo{deployed: true, major: -1}, false},
	} {
		err := checkStoreVersion(smm, &tc.info)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && (!errors.Is(err, fleet.ErrStoreVersion) || fleet.HintOf(err) == "") {
			t.Errorf("%s: want ErrStoreVersion with a hint: %v", name, err)
		}
	}
}

func TestLinkRows(t *testing.T) {
	primary := fleet.Location{Server: "contoso-1.database.windows.net", Database: "contoso"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := link(primary, linkRow{id: "L", partnerServer: "contoso-dr", partnerDB: "contoso", state: "CATCH_UP", role: "PRIMARY", lagSeconds: 3,
		last: sql.NullTime{Time: at, Valid: true}})
	want := fleet.Location{Server: "contoso-dr.database.windows.net", Database: "contoso"}
	if !l.Primary.Equal(primary) || !l.Secondary.Equal(want) || l.State != fleet.LinkHealthy || l.LagSeconds != 3 || l.PercentDone != 100 {
		t.Errorf("primary's view: %+v", l)
	}
	sec := link(want, linkRow{partnerServer: "contoso-1", partnerDB: "contoso", state: "SEEDING", role: "SECONDARY", lagSeconds: -1})
	if !sec.Primary.Equal(primary) || !sec.Secondary.Equal(want) || sec.State != fleet.LinkSeeding {
		t.Errorf("secondary's view: %+v", sec)
	}
	if got := partnerHost(fleet.Location{Server: "localhost"}, "other"); got != "other" {
		t.Errorf("a host without a domain: %s", got)
	}
	if got := serverShortName("contoso-dr.database.windows.net"); got != "contoso-dr" {
		t.Errorf("short name: %s", got)
	}
}

func TestAzureOnlyCalls(t *testing.T) {
	tg := newTarget(Config{Name: "prod"})
	if err := tg.SwitchTraffic(context.Background(), "p", "a", "b"); !errors.Is(err, fleet.ErrNotFound) || fleet.HintOf(err) == "" {
		t.Errorf("traffic on a sqlserver target: %v", err)
	}
	if ps, err := tg.Profiles(context.Background()); err != nil || len(ps) != 0 {
		t.Errorf("profiles: %v %v", ps, err)
	}
}
