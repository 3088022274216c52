package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/fleetplan/fleetplan/fleet"
)

func TestARMErrorsMapToFleetErrors(t *testing.T) {
	cases := map[string]struct {
		api       string
		status    int
		code      string
		want      error
		transient bool
		hint      string
	}{
		"missing role on read":   {"ManagedInstancesClient.NewListByResourceGroupPager", http.StatusForbidden, "AuthorizationFailed", fleet.ErrPermission, false, `"Reader"`},
		"missing role on update": {"ManagedInstancesClient.BeginUpdate", http.StatusForbidden, "AuthorizationFailed", fleet.ErrPermission, false, `"SQL Managed Instance Contributor"`},
		"resource lock":          {"ManagedInstancesClient.BeginUpdate", http.StatusConflict, "ScopeLocked", fleet.ErrLocked, false, "resource lock"},
		"vCore quota":            {"ManagedInstancesClient.BeginUpdate", http.StatusBadRequest, "VCoreQuotaExceeded", fleet.ErrQuota, false, "quota increase"},
		"region capacity":        {"ManagedInstancesClient.BeginUpdate", http.StatusConflict, "RegionDoesNotAllowProvisioning", fleet.ErrQuota, false, "quota"},
		"operation in flight":    {"ManagedInstancesClient.BeginUpdate", http.StatusConflict, "ConflictingServerOperation", fleet.ErrOperationInFlight, false, "wait"},
		"refused settings":       {"ManagedInstancesClient.BeginUpdate", http.StatusBadRequest, "InvalidParameterValue", fleet.ErrInvalidArgument, false, "settings"},
		"expired token":          {"ManagedInstancesClient.BeginUpdate", http.StatusUnauthorized, "ExpiredAuthenticationToken", fleet.ErrPermission, false, "tenant"},
		"service error":          {"ManagedInstancesClient.BeginUpdate", http.StatusInternalServerError, "InternalServerError", nil, true, "retried"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newService()
			s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
			s.errs[tc.api] = errorReply{tc.status, tc.code}
			tgt := s.target(t)
			var err error
			if strings.Contains(tc.api, "List") {
				_, err = tgt.ManagedInstances(context.Background())
			} else {
				_, err = tgt.BeginInstanceOperation(context.Background(), fleet.InstanceRequest{Instance: "mi-prod", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: 16}})
			}
			var fe *fleet.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *fleet.Error", err, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want one matching %v", err, tc.want)
			}
			if fleet.IsTransient(err) != tc.transient {
				t.Fatalf("error %v: transient %t, want %t", err, fleet.IsTransient(err), tc.transient)
			}
			if h := fleet.HintOf(err); !strings.Contains(h, tc.hint) {
				t.Fatalf("hint %q, want it to say %q", h, tc.hint)
			}
			if !strings.Contains(err.Error(), tc.code) || strings.Contains(err.Error(), "https://") {
				t.Fatalf("message %q should name the ARM code and no URL", err)
			}
		})
	}
}

func TestFailedSignInIsAPermissionError(t *testing.T) {
	s := newService()
	tgt := s.target(t)
	tgt2, err := New(Config{Name: "azure-test", Subscription: testSub, ResourceGroup: testRG, Credential: failing{},
		SQLTransport: s.sqlTr, TrafficTransport: s.tmTr})
	if err != nil {
		t.Fatal(err)
	}
	_ = tgt
	err = tgt2.Ping(context.Background())
	if !errors.Is(err, fleet.ErrPermission) || !strings.Contains(fleet.HintOf(err), "DefaultAzureCredential") {
		t.Fatalf("ping with a failing credential: %v (hint %q)", err, fleet.HintOf(err))
	}
}

// captureRetries records what azcore's retry policy logs.
func captureRetries(t *testing.T) func() []string {
	var mu sync.Mutex
	var lines []string
	log.SetEvents(log.EventRetryPolicy)
	log.SetListener(func(_ log.Event, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	})
	t.Cleanup(func() { log.SetListener(nil) })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	th := &throttle{next: s.sqlTr, retryAfter: "1"}
	th.n.Store(1)
	s.sqlTr = th
	tgt := s.target(t)
	logged := captureRetries(t)

	mis, err := tgt.ManagedInstances(context.Background())
	if err != nil || len(mis) != 1 {
		t.Fatalf("after a 429: %v, %v", mis, err)
	}
	// The retry policy waited what Retry-After said (1s), not its own
	// backoff (2s and up for the driver), then sent the request again.
	waited := false
	for _, l := range logged() {
		waited = waited || strings.Contains(l, "Delay=1s")
	}
	if !waited || th.seen.Load() < 2 {
		t.Fatalf("retry log %q, %d requests: want a retry after Retry-After's 1s", logged(), th.seen.Load())
	}
}

func TestThrottledTooLongIsTransient(t *testing.T) {
	s := newService()
	s.addInstance("mi-prod", "GeneralPurpose", "Gen5", 8, 256)
	// ARM asks for more than the driver's longest wait (5 minutes): the
	// retry policy gives up at once, and the step is retried later.
	th := &throttle{next: s.sqlTr, retryAfter: "900"}
	th.n.Store(100)
	s.sqlTr = th
	tgt := s.target(t)
	_, err := tgt.ManagedInstances(context.Background())
	if !fleet.IsTransient(err) || !strings.Contains(err.Error(), "throttled") || !strings.Contains(err.Error(), "TooManyRequests") {
		t.Fatalf("throttled: %v", err)
	}
	if th.seen.Load() != 1 {
		t.Fatalf("%d requests sent; a Retry-After past the longest wait is not waited out in the driver", th.seen.Load())
	}
}

// failing is a credential that cannot get a token.
type failing struct{}

func (failing) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("DefaultAzureCredential: failed to acquire a token")
}
