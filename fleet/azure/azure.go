package azure

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/trafficmanager/armtrafficmanager"

	"github.com/fleetplan/fleetplan/fleet"
)

// DriverName is the name targets use in fleetplan.yaml.
const DriverName = "azure"

func init() { fleet.Register(DriverName, open) }

// Config says which subscription and resource group the target manages and
// how to reach them.
type Config struct {
	Name          string // the target's name in fleetplan.yaml
	Subscription  string
	ResourceGroup string
	// Location is the region of instances the driver creates (an instance
	// create without it is refused).
	Location string
	// Credential signs requests; nil means azidentity's
	// DefaultAzureCredential.
	Credential azcore.TokenCredential
	// AdminLogin and AdminPassword are the SQL administrator of the
	// managed instances the driver creates. They are sent to ARM in the
	// create request only and never printed.
	AdminLogin, AdminPassword string
	// SQLTransport and TrafficTransport carry the requests of the armsql
	// and armtrafficmanager clients; nil means HTTPS to Azure. Tests set
	// the SDK's fake servers here.
	SQLTransport, TrafficTransport policy.Transporter
	// Retry overrides the driver's retry policy (zero: the driver's).
	Retry policy.RetryOptions
	// PollInterval is the least time between two status requests for one
	// operation (zero: 10 s). Callers may ask more often; they get the last
	// status until it is due again.
	PollInterval time.Duration
}

// retry is the driver's retry policy: azcore retries 408, 429, 500, 502,
// 503 and 504 and waits what Retry-After says when the response has it.
// ARM throttles per subscription for up to minutes, so a long Retry-After
// is waited out rather than given up on.
var retry = policy.RetryOptions{MaxRetries: 6, RetryDelay: 2 * time.Second, MaxRetryDelay: 5 * time.Minute}

// Target is an opened azure target. It implements fleet.Target and
// fleet.InstanceManager.
type Target struct {
	cfg Config
	sql *armsql.ClientFactory
	tm  *armtrafficmanager.ClientFactory
	ops *operations
}

var _ fleet.InstanceManager = (*Target)(nil)

// open is the registered OpenFunc: it reads fleetplan.yaml's settings.
// auth.clientSecret (with auth.tenantId and auth.clientId) signs in as that
// service principal; otherwise DefaultAzureCredential picks the identity
// (environment, workload identity, managed identity, Azure CLI), in the
// tenant auth.tenantId when set.
func open(ctx context.Context, tc fleet.TargetConfig) (fleet.Target, error) {
	o := tc.Options
	cfg := Config{Name: tc.Name, Subscription: o["subscription"], ResourceGroup: o["resourceGroup"], Location: o["location"],
		AdminLogin: o["auth.user"], AdminPassword: o["auth.password"]}
	if v := o["pollInterval"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, &fleet.Error{Op: "open target", Target: tc.Name, Err: fmt.Errorf("%w: options.pollInterval %q is not a duration", fleet.ErrInvalidArgument, v),
				Hint: "write it like 10s or 1m"}
		}
		cfg.PollInterval = d
	}
	tenant, client, secret := o["auth.tenantId"], o["auth.clientId"], o["auth.clientSecret"]
	var err error
	switch {
	case secret != "":
		if tenant == "" || client == "" {
			return nil, &fleet.Error{Op: "open target", Target: tc.Name, Err: fmt.Errorf("%w: auth.clientSecret needs auth.tenantId and auth.clientId", fleet.ErrInvalidArgument),
				Hint: "name the service principal's tenant and application (client) id next to its secret, or drop all three to use DefaultAzureCredential"}
		}
		cfg.Credential, err = azidentity.NewClientSecretCredential(tenant, client, secret, nil)
	default:
		cfg.Credential, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: tenant})
	}
	if err != nil {
		return nil, call{op: "open target", target: tc.Name}.wrap(&credentialError{err})
	}
	return New(cfg)
}

// New opens a target from a Config.
func New(cfg Config) (*Target, error) {
	var missing []string
	if cfg.Subscription == "" {
		missing = append(missing, "subscription")
	}
	if cfg.ResourceGroup == "" {
		missing = append(missing, "resourceGroup")
	}
	if len(missing) > 0 {
		return nil, &fleet.Error{Op: "open target", Target: cfg.Name, Err: fmt.Errorf("%w: missing %s", fleet.ErrInvalidArgument, strings.Join(missing, " and ")),
			Hint: "an azure target names its subscription (id) and resource group in fleetplan.yaml"}
	}
	if cfg.Credential == nil {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, call{op: "open target", target: cfg.Name}.wrap(&credentialError{err})
		}
		cfg.Credential = c
	}
	if cfg.Retry.MaxRetries == 0 && cfg.Retry.RetryDelay == 0 && cfg.Retry.MaxRetryDelay == 0 {
		cfg.Retry = retry
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Second
	}
	cred := credential{cfg.Credential}
	opts := func(tr policy.Transporter) *arm.ClientOptions {
		return &arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: tr, Retry: cfg.Retry}}
	}
	sql, err := armsql.NewClientFactory(cfg.Subscription, cred, opts(cfg.SQLTransport))
	if err != nil {
		return nil, call{op: "open target", target: cfg.Name}.wrap(err)
	}
	tm, err := armtrafficmanager.NewClientFactory(cfg.Subscription, cred, opts(cfg.TrafficTransport))
	if err != nil {
		return nil, call{op: "open target", target: cfg.Name}.wrap(err)
	}
	return &Target{cfg: cfg, sql: sql, tm: tm, ops: newOperations()}, nil
}

// Name implements fleet.Target.
func (t *Target) Name() string { return t.cfg.Name }

// Driver implements fleet.Target.
func (t *Target) Driver() string { return DriverName }

// Close implements fleet.Target; the SDK's clients hold nothing to release.
func (t *Target) Close() error { return nil }

// Ping implements fleet.Target: it signs in and reads the resource group's
// managed instances, which needs the Reader role at least.
func (t *Target) Ping(ctx context.Context) error {
	pager := t.sql.NewManagedInstancesClient().NewListByResourceGroupPager(t.cfg.ResourceGroup, nil)
	_, err := pager.NextPage(ctx)
	return call{op: "ping", target: t.rg(), role: roleReader}.wrap(err)
}

// rg names the resource group in errors.
func (t *Target) rg() string { return "resource group " + t.cfg.ResourceGroup }

// all reads every page of a pager.
func all[R, T any](ctx context.Context, c call, pager *runtime.Pager[R], items func(R) []T) ([]T, error) {
	var out []T
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, c.wrap(err)
		}
		out = append(out, items(page)...)
	}
	return out, nil
}
