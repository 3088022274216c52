package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/fleetplan/fleetplan/fleet"
)

// The built-in Azure roles an operation needs (docs/azure.md lists them per
// operation). A missing role assignment names the role in its hint.
const (
	roleReader          = "Reader"
	roleInstance        = "SQL Managed Instance Contributor"
	roleDatabase        = "SQL DB Contributor"
	roleServer          = "SQL Server Contributor"
	roleTrafficManager  = "Traffic Manager Contributor"
	permissionsDocument = "docs/azure.md lists the role of every operation"
)

// call says what the driver was doing when ARM answered with an error: the
// operation, the resource, and the built-in role that grants it.
type call struct {
	op, target, role string
	// inFlight: a 409 conflict means another operation runs on the resource.
	inFlight bool
}

// armError is the error body ARM returns ({"error": {"code", "message"}}).
type armError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wrap turns an error of the SDK into a *fleet.Error: the class of the ARM
// error code (never its message text) decides the fleet error it wraps, and
// the hint says what to change. Request URLs and headers are left out of the
// message; they carry nothing the operator needs and may carry tokens.
func (c call) wrap(err error) error {
	if err == nil {
		return nil
	}
	var fe *fleet.Error
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := &fleet.Error{Op: c.op, Target: c.target}
	var re *azcore.ResponseError
	var ce *credentialError
	switch {
	case errors.As(err, &ce):
		e.Err = fmt.Errorf("%w: no Azure access token: %s", fleet.ErrPermission, firstLine(ce.err.Error()))
		e.Hint = "fleetplan signs in with DefaultAzureCredential: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE), run on a managed identity, or sign in with `az login`"
	case errors.As(err, &re):
		classify(c, e, re)
	default:
		// A transport error (connection reset, timeout): azcore's retry
		// policy already retried it.
		e.Err = fmt.Errorf("Azure Resource Manager: %s", firstLine(err.Error()))
		e.Transient = true
		e.Hint = "the management endpoint could not be reached; the step is retried"
	}
	return e
}

// classify fills e from an ARM error response.
func classify(c call, e *fleet.Error, re *azcore.ResponseError) {
	code, msg := re.ErrorCode, ""
	if re.RawResponse != nil {
		if body, err := runtime.Payload(re.RawResponse); err == nil {
			var ae armError
			if json.Unmarshal(body, &ae) == nil {
				msg = ae.Error.Message
				if code == "" {
					code = ae.Error.Code
				}
			}
		}
	}
	detail := fmt.Sprintf("ARM %s (HTTP %d)", orUnknown(code), re.StatusCode)
	if msg != "" {
		detail += ": " + firstLine(msg)
	}
	lc := strings.ToLower(code)
	switch {
	case code == "AuthorizationFailed" || code == "LinkedAuthorizationFailed" || re.StatusCode == http.StatusForbidden && !strings.Contains(lc, "quota"):
		e.Err = fmt.Errorf("%w: %s", fleet.ErrPermission, detail)
		e.Hint = fmt.Sprintf("the identity fleetplan signs in with has no role assignment that allows this; assign it the built-in role %q on the resource group (%s)", c.role, permissionsDocument)
	case re.StatusCode == http.StatusUnauthorized || strings.HasPrefix(code, "InvalidAuthenticationToken") || code == "ExpiredAuthenticationToken":
		e.Err = fmt.Errorf("%w: %s", fleet.ErrPermission, detail)
		e.Hint = "the access token was refused: check that the credential belongs to the subscription's tenant (AZURE_TENANT_ID or auth.tenantId)"
	case code == "ScopeLocked":
		e.Err = fmt.Errorf("%w: %s", fleet.ErrLocked, detail)
		e.Hint = "a resource lock (CanNotDelete or ReadOnly) on the resource, its resource group or its subscription forbids the change; remove the lock or ask its owner to, then resume"
	case strings.Contains(lc, "quota") || code == "SubscriptionNotAllowed" || code == "RegionDoesNotAllowProvisioning" || code == "ProvisioningDisabled":
		e.Err = fmt.Errorf("%w: %s", fleet.ErrQuota, detail)
		e.Hint = "the subscription's quota or the region's capacity does not allow this; request a quota increase (Azure portal: Quotas, or a support request of type Service and subscription limits) or pick another region or size"
	case re.StatusCode == http.StatusTooManyRequests:
		e.Err = fmt.Errorf("throttled by Azure Resource Manager: %s", detail)
		e.Transient = true
		e.Hint = "ARM throttled the subscription longer than the driver waits (it honours Retry-After); the step is retried"
	case re.StatusCode == http.StatusNotFound || strings.HasSuffix(code, "NotFound"):
		e.Err = fmt.Errorf("%w: %s", fleet.ErrNotFound, detail)
		e.Hint = "check the name, the subscription and the resource group in fleetplan.yaml"
	case re.StatusCode == http.StatusConflict && c.inFlight:
		e.Err = fmt.Errorf("%w: %s", fleet.ErrOperationInFlight, detail)
		e.Hint = "wait for the operation in flight to end (az sql mi op list), then resume"
	case re.StatusCode == http.StatusConflict:
		e.Err = fmt.Errorf("%w: %s", fleet.ErrConflict, detail)
		e.Hint = "the resource is not in a state that allows this; look at it in the portal, then resume"
	case re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusUnprocessableEntity:
		e.Err = fmt.Errorf("%w: %s", fleet.ErrInvalidArgument, detail)
		e.Hint = "Azure refused the request as written; change the plan's settings"
	case re.StatusCode >= 500 || re.StatusCode == http.StatusRequestTimeout:
		e.Err = fmt.Errorf("Azure Resource Manager: %s", detail)
		e.Transient = true
		e.Hint = "a service error; the step is retried"
	default:
		e.Err = fmt.Errorf("Azure Resource Manager: %s", detail)
	}
}

// isNotFound reports whether err is ARM's answer for a missing resource.
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusNotFound || strings.HasSuffix(re.ErrorCode, "NotFound"))
}

// isCancelled reports whether an operation's failure is its cancellation.
func isCancelled(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch strings.ToLower(re.ErrorCode) {
	case "operationcancelled", "operationcanceled", "cancelled", "canceled":
		return true
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "error"
	}
	return s
}

// credential marks the errors of the credential it wraps, so wrap can tell
// a failed sign-in from an error of ARM whatever the credential's type.
type credential struct{ azcore.TokenCredential }

// GetToken implements azcore.TokenCredential.
func (c credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, opts)
	if err != nil {
		return tok, &credentialError{err}
	}
	return tok, nil
}

type credentialError struct{ err error }

func (e *credentialError) Error() string { return e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// NonRetriable tells azcore's retry policy not to retry a failed sign-in.
func (*credentialError) NonRetriable() {}
