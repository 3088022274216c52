package sqlserver

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

func target(opts map[string]string) fleet.TargetConfig {
	o := map[string]string{"server": "sql-1.database.windows.net", "database": "smm"}
	for k, v := range opts {
		o[k] = v
	}
	return fleet.TargetConfig{Name: "prod", Driver: DriverName, Options: o}
}

// plantedSecret is a password no output may ever hold; it has characters a
// URL escapes, so its escaped forms are checked too.
const plantedSecret = "Pl@nted;S3cret/=?&%"

func TestDSN(t *testing.T) {
	shard := fleet.Location{Server: "sql-2.database.windows.net", Database: "customers_0"}
	tests := map[string]struct {
		opts               map[string]string
		loc                fleet.Location
		driver, want, redc string
	}{
		"sql login": {
			opts:   map[string]string{"auth.user": "fleetplan", "auth.password": "pw"},
			driver: "sqlserver",
			want:   "sqlserver://fleetplan:pw@sql-1.database.windows.net?app+name=fleetplan&connection+timeout=30&database=smm&dial+timeout=30&encrypt=true",
			redc:   "sqlserver://fleetplan:%5Bsecret%5D@sql-1.database.windows.net?app+name=fleetplan&connection+timeout=30&database=smm&dial+timeout=30&encrypt=true",
		},
		"container with port and self-signed certificate": {
			opts:   map[string]string{"auth.user": "sa", "auth.password": "pw", "port": "14333", "trustServerCertificate": "true", "server": "localhost"},
			loc:    fleet.Location{Server: "localhost", Database: "db_a"},
			driver: "sqlserver",
			want:   "sqlserver://sa:pw@localhost:14333?TrustServerCertificate=true&app+name=fleetplan&connection+timeout=30&database=db_a&dial+timeout=30&encrypt=true",
		},
		"another server takes the default port": {
			opts:   map[string]string{"auth.user": "sa", "auth.password": "pw", "port": "14333"},
			loc:    shard,
			driver: "sqlserver",
			want:   "sqlserver://sa:pw@sql-2.database.windows.net?app+name=fleetplan&connection+timeout=30&database=customers_0&dial+timeout=30&encrypt=true",
		},
		"entra default credential": {
			opts:   map[string]string{"fedauth": "activedirectorydefault"},
			driver: "azuresql",
			want:   "sqlserver://sql-1.database.windows.net?app+name=fleetplan&connection+timeout=30&database=smm&dial+timeout=30&encrypt=true&fedauth=ActiveDirectoryDefault",
		},
		"user-assigned managed identity": {
			opts:   map[string]string{"fedauth": FedAuthManagedIdentity, "auth.clientId": "11111111-2222-3333-4444-555555555555"},
			driver: "azuresql",
			want:   "sqlserver://11111111-2222-3333-4444-555555555555@sql-1.database.windows.net?app+name=fleetplan&connection+timeout=30&database=smm&dial+timeout=30&encrypt=true&fedauth=ActiveDirectoryManagedIdentity",
		},
		"service principal": {
			opts: map[string]string{"fedauth": FedAuthServicePrincipal, "auth.clientId": "app-id", "auth.tenantId": "tenant-id",
				"auth.clientSecret": "cs", "connectTimeout": "10s"},
			driver: "azuresql",
			want:   "sqlserver://app-id%40tenant-id:cs@sql-1.database.windows.net?app+name=fleetplan&connection+timeout=10&database=smm&dial+timeout=10&encrypt=true&fedauth=ActiveDirectoryServicePrincipal",
			redc:   "sqlserver://app-id%40tenant-id:%5Bsecret%5D@sql-1.database.windows.net?app+name=fleetplan&connection+timeout=10&database=smm&dial+timeout=10&encrypt=true&fedauth=ActiveDirectoryServicePrincipal",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig(target(tc.opts))
			if err != nil {
				t.Fatal(err)
			}
			loc := tc.loc
			if loc == (fleet.Location{}) {
				loc = c.SMM()
			}
			if got := c.DriverName(); got != tc.driver {
				t.Errorf("driver %q, want %q", got, tc.driver)
			}
			if got := c.DSN(loc); got != tc.want {
				t.Errorf("DSN\n got %s\nwant %s", got, tc.want)
			}
			if tc.redc != "" {
				if got := c.RedactedDSN(loc); got != tc.redc {
					t.Errorf("redacted DSN\n got %s\nwant %s", got, tc.redc)
				}
			}
		})
	}
}

func TestRedactedDSNHidesEscapedSecret(t *testing.T) {
	c, err := ParseConfig(target(map[string]string{"auth.user": "u", "auth.password": plantedSecret}))
	if err != nil {
		t.Fatal(err)
	}
	red := c.RedactedDSN(c.SMM())
	if strings.Contains(c.DSN(c.SMM()), plantedSecret) {
		t.Log("the DSN holds the raw secret (expected: it is what the driver gets)")
	}
	r := newRedactor(c.Secrets()...)
	for _, s := range []string{red, r.String(c.DSN(c.SMM()))} {
		assertNoSecret(t, "redacted DSN", s)
	}
}

// assertNoSecret fails when s holds the planted secret in any form a DSN or
// a URL gives it.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	r := newRedactor()
	for _, form := range []string{plantedSecret, "Pl%40nted", "S3cret%2F", "S3cret/"} {
		if strings.Contains(s, form) {
			t.Errorf("%s holds the secret (%q): %s", what, form, r.String(s))
		}
	}
}

func TestParseConfigRefuses(t *testing.T) {
	tests := map[string]struct {
		opts map[string]string
		want string
	}{
		"no credentials":           {nil, "needs auth.user and auth.password"},
		"no server":                {map[string]string{"server": "", "auth.user": "u", "auth.password": "p"}, "needs server: and database:"},
		"connection string server": {map[string]string{"server": "x;Password=p", "auth.user": "u", "auth.password": "p"}, "takes a host name"},
		"credential option":        {map[string]string{"auth.user": "u", "auth.password": "p", "password": "p"}, `option "password" would hold a credential`},
		"dsn option":               {map[string]string{"dsn": "sqlserver://u@h"}, `option "dsn" would hold a credential`},
		"password in an option":    {map[string]string{"auth.user": "u", "auth.password": "p", "hostNameInCertificate": "Server=x;Password=p"}, "inline password"},
		"unknown option":           {map[string]string{"auth.user": "u", "auth.password": "p", "colour": "red"}, "unknown option(s) colour"},
		"bad port":                 {map[string]string{"auth.user": "u", "auth.password": "p", "port": "99999"}, "not a TCP port"},
		"bad encrypt":              {map[string]string{"auth.user": "u", "auth.password": "p", "encrypt": "maybe"}, "encrypt"},
		"unknown fedauth":          {map[string]string{"fedauth": "Kerberos"}, `fedauth "Kerberos"`},
		"service principal lacks a secret": {map[string]string{"fedauth": FedAuthServicePrincipal, "auth.clientId": "a", "auth.tenantId": "t"},
			"needs auth.clientId, auth.tenantId and auth.clientSecret"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig(target(tc.opts))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if !errors.Is(err, fleet.ErrInvalidArgument) || fleet.HintOf(err) == "" {
				t.Errorf("want an ErrInvalidArgument with a hint: %v", err)
			}
			if strings.Contains(err.Error(), "Password=p") {
				t.Errorf("the refusal repeats the inline password: %v", err)
			}
		})
	}
}
