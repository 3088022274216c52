package sqlserver

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/secret"
)

// DriverName is the name under which the driver registers ("driver: sqlserver").
const DriverName = "sqlserver"

// AppName is the application name of fleetplan's own sessions. It differs
// from the library's routing suffix (ESC_SMMv…_User…), so taking a mapping
// offline never kills fleetplan's own sessions.
const AppName = "fleetplan"

// Entra ID (Azure AD) authentication methods, as go-mssqldb's azuresql
// driver names them in fedauth=.
const (
	FedAuthDefault          = "ActiveDirectoryDefault"
	FedAuthManagedIdentity  = "ActiveDirectoryManagedIdentity"
	FedAuthServicePrincipal = "ActiveDirectoryServicePrincipal"
)

// Driver names of go-mssqldb: SQL authentication, and Entra ID with fedauth.
const (
	sqlDriver   = "sqlserver"
	azureDriver = "azuresql"
)

// Config is how the driver reaches a fleet: the shard map manager database
// (Server, Port, Database) and the credentials used for it and for every
// shard. Secrets hold resolved values and never leave this package.
type Config struct {
	Name     string // the target's name in fleetplan.yaml
	Server   string // host name of the shard map manager's server
	Port     int    // 0: the default (1433)
	Database string // the shard map manager database

	User     string // SQL login, or the client id for Entra ID
	password string // SQL password or service principal secret (resolved)
	FedAuth  string // "" for SQL authentication, else one of FedAuth*
	TenantID string // service principal tenant
	// Credentials names where User and the secret come from: "auth", or
	// "recoveryAuth" when the target was opened for a shard map recovery
	// and names recovery credentials (every connection then uses them).
	Credentials string
	secrets     []string // every resolved secret of the target, for redaction

	Encrypt                string // "true" (default), "strict", "false", "disable"
	TrustServerCertificate bool   // a self-signed certificate (containers)
	HostNameInCertificate  string
	ConnectTimeout         time.Duration // dial and login, default 30 s
	// LockTimeout bounds how long a shard map operation waits for the
	// application lock of another live operation (the library's is 60 s).
	LockTimeout time.Duration
	// ElasticDBScripts is a folder holding the Elastic Database library's
	// own deployment scripts (CreateShardMapManagerGlobal.sql, ...), which
	// fleetplan runs to create a shard map manager or a shard's local shard
	// map; empty, fleetplan deploys its own procedures of the same contract.
	ElasticDBScripts string
}

// options a target may set besides auth (fleetplan.yaml `options:`).
var knownOptions = map[string]bool{
	"fedauth": true, "encrypt": true, "trustServerCertificate": true, "hostNameInCertificate": true,
	"connectTimeout": true, "lockTimeout": true, "elasticdbScripts": true,
}

func configErr(name, format string, args ...any) error {
	return &fleet.Error{Op: "open sqlserver target", Target: name, Err: fmt.Errorf("%w: "+format, append([]any{fleet.ErrInvalidArgument}, args...)...),
		Hint: "see docs/sqlserver.md for the target settings (server, database, port, auth, options)"}
}

// ParseConfig reads a target's settings. Credentials arrive resolved from
// env: or file: references (auth.password, auth.clientSecret); an option
// that looks like a credential or a connection string is refused, so no
// secret can be written in fleetplan.yaml in plain text.
func ParseConfig(cfg fleet.TargetConfig) (Config, error) {
	o := cfg.Options
	auth := "auth" // where the credentials come from
	for k := range o {
		if strings.HasPrefix(k, fleet.RecoveryAuthPrefix) && cfg.Mode == fleet.OpenForRecovery {
			auth = strings.TrimSuffix(fleet.RecoveryAuthPrefix, ".")
		}
	}
	c := Config{Name: cfg.Name, Server: strings.TrimSpace(o["server"]), Database: strings.TrimSpace(o["database"]),
		User: o[auth+".user"], FedAuth: o["fedauth"], TenantID: o[auth+".tenantId"], Encrypt: "true",
		ConnectTimeout: 30 * time.Second, LockTimeout: 60 * time.Second, Credentials: auth}
	for k, v := range o {
		if (strings.HasPrefix(k, "auth.") || strings.HasPrefix(k, fleet.RecoveryAuthPrefix)) && secret.IsKey(k) && v != "" {
			c.secrets = append(c.secrets, v)
		}
	}
	sort.Strings(c.secrets)
	var unknown []string
	for k, v := range o {
		if strings.HasPrefix(k, "auth.") || strings.HasPrefix(k, fleet.RecoveryAuthPrefix) || k == "server" || k == "database" || k == "port" {
			continue
		}
		if secret.IsKey(k) || strings.EqualFold(k, "dsn") {
			return Config{}, configErr(cfg.Name, "option %q would hold a credential in fleetplan.yaml", k)
		}
		if why, _ := secret.Inline(k, v); why != "" {
			return Config{}, configErr(cfg.Name, "%s", why)
		}
		if !knownOptions[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, configErr(cfg.Name, "unknown option(s) %s (known: connectTimeout, elasticdbScripts, encrypt, fedauth, hostNameInCertificate, lockTimeout, trustServerCertificate)", strings.Join(unknown, ", "))
	}
	if c.Server == "" || c.Database == "" {
		return Config{}, configErr(cfg.Name, "a sqlserver target needs server: and database: (the shard map manager database)")
	}
	if strings.ContainsAny(c.Server, "/;@ ") {
		return Config{}, configErr(cfg.Name, "server: takes a host name, not a connection string")
	}
	if p := o["port"]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, configErr(cfg.Name, "port %q is not a TCP port", p)
		}
		c.Port = n
	}
	if e := o["encrypt"]; e != "" {
		switch strings.ToLower(e) {
		case "true", "strict", "false", "disable":
			c.Encrypt = strings.ToLower(e)
		default:
			return Config{}, configErr(cfg.Name, "encrypt %q: want true, strict, false or disable", e)
		}
	}
	if v := o["trustServerCertificate"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, configErr(cfg.Name, "trustServerCertificate %q is not true or false", v)
		}
		c.TrustServerCertificate = b
	}
	c.HostNameInCertificate = o["hostNameInCertificate"]
	if d := o["elasticdbScripts"]; d != "" {
		if !filepath.IsAbs(d) {
			return Config{}, configErr(cfg.Name, "elasticdbScripts %q must be an absolute path", d)
		}
		c.ElasticDBScripts = filepath.Clean(d)
	}
	for _, d := range []struct {
		key string
		to  *time.Duration
	}{{"connectTimeout", &c.ConnectTimeout}, {"lockTimeout", &c.LockTimeout}} {
		if v := o[d.key]; v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t < 0 {
				return Config{}, configErr(cfg.Name, "%s %q is not a duration (30s, 2m)", d.key, v)
			}
			*d.to = t
		}
	}
	switch {
	case c.FedAuth == "":
		c.password = o[auth+".password"]
		if c.User == "" || c.password == "" {
			return Config{}, configErr(cfg.Name, "SQL authentication needs %s.user and %s.password (password: env:VAR or file:PATH); "+
				"for Entra ID set options.fedauth to %s, %s or %s", auth, auth, FedAuthDefault, FedAuthManagedIdentity, FedAuthServicePrincipal)
		}
	case strings.EqualFold(c.FedAuth, FedAuthDefault):
		c.FedAuth = FedAuthDefault
	case strings.EqualFold(c.FedAuth, FedAuthManagedIdentity):
		// auth.clientId picks a user-assigned identity; none is the system one.
		c.FedAuth, c.User = FedAuthManagedIdentity, o[auth+".clientId"]
	case strings.EqualFold(c.FedAuth, FedAuthServicePrincipal):
		c.FedAuth, c.User, c.password = FedAuthServicePrincipal, o[auth+".clientId"], o[auth+".clientSecret"]
		if c.User == "" || c.TenantID == "" || c.password == "" {
			return Config{}, configErr(cfg.Name, "%s needs %s.clientId, %s.tenantId and %s.clientSecret (env:VAR or file:PATH)", FedAuthServicePrincipal, auth, auth, auth)
		}
	default:
		return Config{}, configErr(cfg.Name, "fedauth %q: want %s, %s or %s", c.FedAuth, FedAuthDefault, FedAuthManagedIdentity, FedAuthServicePrincipal)
	}
	return c, nil
}

// Secrets are the resolved secret values, for redaction.
func (c Config) Secrets() []string {
	if c.password == "" && len(c.secrets) == 0 {
		return nil
	}
	out := append([]string(nil), c.secrets...)
	if c.password != "" {
		out = append(out, c.password)
	}
	return out
}

// DriverName is the go-mssqldb driver the DSNs are for: azuresql with
// fedauth, sqlserver otherwise.
func (c Config) DriverName() string {
	if c.FedAuth != "" {
		return azureDriver
	}
	return sqlDriver
}

// SMM is the shard map manager database's location.
func (c Config) SMM() fleet.Location { return fleet.Location{Server: c.Server, Database: c.Database} }

// DSN is the connection string for a database of the fleet. A database on
// the shard map manager's server uses its port; any other server the
// default one, as the library's ShardLocation with Port 0 does.
func (c Config) DSN(loc fleet.Location) string { return c.dsnURL(loc, c.password).String() }

// RedactedDSN is DSN with the secret replaced, safe to print.
func (c Config) RedactedDSN(loc fleet.Location) string {
	if c.password == "" {
		return c.DSN(loc)
	}
	return c.dsnURL(loc, secret.Mask).String()
}

func (c Config) dsnURL(loc fleet.Location, password string) *url.URL {
	host := loc.Server
	if c.Port != 0 && strings.EqualFold(loc.Server, c.Server) {
		host = net.JoinHostPort(loc.Server, strconv.Itoa(c.Port))
	}
	u := &url.URL{Scheme: "sqlserver", Host: host}
	q := url.Values{}
	q.Set("database", loc.Database)
	q.Set("app name", AppName)
	q.Set("encrypt", c.Encrypt)
	if c.TrustServerCertificate {
		q.Set("TrustServerCertificate", "true")
	}
	if c.HostNameInCertificate != "" {
		q.Set("hostNameInCertificate", c.HostNameInCertificate)
	}
	secs := strconv.Itoa(int(c.ConnectTimeout / time.Second))
	q.Set("connection timeout", secs)
	q.Set("dial timeout", secs)
	switch c.FedAuth {
	case "":
		u.User = url.UserPassword(c.User, password)
	case FedAuthDefault:
		q.Set("fedauth", FedAuthDefault)
	case FedAuthManagedIdentity:
		q.Set("fedauth", FedAuthManagedIdentity)
		if c.User != "" {
			u.User = url.User(c.User)
		}
	case FedAuthServicePrincipal:
		q.Set("fedauth", FedAuthServicePrincipal)
		u.User = url.UserPassword(c.User+"@"+c.TenantID, password)
	}
	u.RawQuery = q.Encode()
	return u
}
