package generic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/secret"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

func init() { steps.Register(stepspec.HTTPName, HTTP{}) }

var _ steps.Action = HTTP{}

// HTTP sends one HTTP request and checks the status.
//
// Inputs: url, method (default GET), headers (a value env:VAR or file:PATH
// is a secret reference, resolved when the request is sent), body, expectStatus (a code or
// a list of codes; default any 2xx), timeout (default 30s). Observe: never
// live (a request is a check, not a state). Apply: sends it; outputs status
// and body (at most 64 KiB). Connection errors and 502/503/504 are transient
// (retried by the runner); another unexpected status fails the step.
// Rollback: none. Estimate: seconds.
type HTTP struct{}

type httpArgs struct {
	method, url, body string
	headers           map[string]string
	expect            []int
	timeout           time.Duration
}

func parseHTTP(in steps.Inputs) (httpArgs, error) {
	spec, ar := steps.Parse[stepspec.HTTP](in)
	h := httpArgs{url: spec.URL, method: strings.ToUpper(spec.Method), body: spec.Body, headers: spec.Headers, timeout: spec.Timeout}
	switch v := spec.ExpectStatus.(type) {
	case nil:
	case []any:
		for i := range v {
			n := steps.ArgsOf(stepspec.HTTPName, steps.Inputs{"code": v[i]}).Int("code", 0)
			h.expect = append(h.expect, n)
		}
	default:
		h.expect = []int{ar.Int("expectStatus", 0)}
	}
	for _, c := range h.expect {
		if c < 100 || c > 599 {
			return h, &fleet.Error{Op: stepspec.HTTPName, Target: h.url, Err: fmt.Errorf("%w: expectStatus %d is not an HTTP status", fleet.ErrInvalidArgument, c)}
		}
	}
	return h, ar.Err()
}

func (h httpArgs) ok(status int) bool {
	if len(h.expect) == 0 {
		return status >= 200 && status < 300
	}
	for _, c := range h.expect {
		if c == status {
			return true
		}
	}
	return false
}

// Observe implements steps.Action.
func (HTTP) Observe(_ context.Context, _ *steps.Env, in steps.Inputs) (bool, error) {
	_, err := parseHTTP(in)
	return false, err
}

// Apply implements steps.Action.
func (HTTP) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	h, err := parseHTTP(in)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.HTTPName); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var body io.Reader
	if h.body != "" {
		body = strings.NewReader(h.body)
	}
	req, err := http.NewRequestWithContext(rctx, h.method, h.url, body)
	if err != nil {
		return nil, &fleet.Error{Op: stepspec.HTTPName, Target: h.url, Err: fmt.Errorf("%w: %v", fleet.ErrInvalidArgument, err)}
	}
	var red secret.Redactor
	for _, k := range steps.SortedKeys(h.headers) {
		v := h.headers[k]
		if ref, ok := secret.Parse(v); ok {
			if v, err = env.Secret(ref); err != nil {
				return nil, &fleet.Error{Op: stepspec.HTTPName, Target: "header " + k, Err: fmt.Errorf("%w: %v", fleet.ErrInvalidArgument, err),
					Hint: "set the variable, or create the file (relative to the plan's folder, inside the plan repository)"}
			}
			red.Add(v)
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ne net.Error
		transient := errors.As(err, &ne) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection refused") ||
			strings.Contains(err.Error(), "connection reset")
		return nil, &fleet.Error{Op: stepspec.HTTPName, Target: h.method + " " + h.url, Err: err, Transient: transient && ctx.Err() == nil}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	out := steps.Outputs{"status": resp.StatusCode, "body": red.String(string(b))}
	if !h.ok(resp.StatusCode) {
		transient := resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
		return nil, &fleet.Error{Op: stepspec.HTTPName, Target: h.method + " " + h.url, Transient: transient,
			Err: fmt.Errorf("status %d, want %s", resp.StatusCode, h.wanted())}
	}
	env.Logf("%s %s: %d", h.method, h.url, resp.StatusCode)
	return out, nil
}

func (h httpArgs) wanted() string {
	if len(h.expect) == 0 {
		return "2xx"
	}
	s := make([]string, len(h.expect))
	for i, c := range h.expect {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, " or ")
}

// Rollback implements steps.Action.
func (HTTP) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Estimate implements steps.Action.
func (HTTP) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: time.Second, Basis: "one request"}
}
