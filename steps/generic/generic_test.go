package generic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
)

func TestExec(t *testing.T) {
	dir := t.TempDir()
	env := &steps.Env{BaseDir: dir, StepID: "x"}
	cases := map[string]struct {
		in        steps.Inputs
		stdout    string
		errSubstr string
	}{
		"shell string":     {in: steps.Inputs{"command": "echo hello"}, stdout: "hello"},
		"argv list":        {in: steps.Inputs{"command": []any{"printf", "%s-%s", "a", "b"}}, stdout: "a-b"},
		"env":              {in: steps.Inputs{"command": "echo $GREETING", "env": map[string]any{"GREETING": "hi"}}, stdout: "hi"},
		"runs in plan dir": {in: steps.Inputs{"command": "pwd"}, stdout: dir},
		"exit code":        {in: steps.Inputs{"command": "echo broken >&2; exit 3"}, errSubstr: "exit status 3: broken"},
		"timeout":          {in: steps.Inputs{"command": "sleep 5", "timeout": "100ms"}, errSubstr: "timed out"},
		"no command":       {in: steps.Inputs{}, errSubstr: "missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := Exec{}.Apply(context.Background(), env, tc.in)
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("want an error with %q, got %v", tc.errSubstr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out["stdout"] != tc.stdout || out["exitCode"] != 0 {
				t.Fatalf("outputs %v", out)
			}
		})
	}
}

func TestExecCreates(t *testing.T) {
	dir := t.TempDir()
	env := &steps.Env{BaseDir: dir}
	in := steps.Inputs{"command": "touch marker", "creates": "marker"}
	if done, err := (Exec{}).Observe(context.Background(), env, in); err != nil || done {
		t.Fatalf("before: %v %v", done, err)
	}
	if _, err := (Exec{}).Apply(context.Background(), env, in); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "marker")); err != nil {
		t.Fatal(err)
	}
	if done, err := (Exec{}).Observe(context.Background(), env, in); err != nil || !done {
		t.Fatalf("after: %v %v", done, err)
	}
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("fine " + r.Method + " " + r.Header.Get("X-Check")))
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	cases := map[string]struct {
		in        steps.Inputs
		status    int
		transient bool
		fails     bool
	}{
		"get 2xx":             {in: steps.Inputs{"url": srv.URL + "/ok", "headers": map[string]any{"X-Check": "1"}}, status: 200},
		"expected 404":        {in: steps.Inputs{"url": srv.URL + "/missing", "expectStatus": 404}, status: 404},
		"expected one of":     {in: steps.Inputs{"url": srv.URL + "/missing", "expectStatus": []any{200, 404}}, status: 404},
		"unexpected 404":      {in: steps.Inputs{"url": srv.URL + "/missing"}, fails: true},
		"503 is transient":    {in: steps.Inputs{"url": srv.URL + "/busy"}, fails: true, transient: true},
		"connection refused":  {in: steps.Inputs{"url": "http://127.0.0.1:1/"}, fails: true, transient: true},
		"bad expected status": {in: steps.Inputs{"url": srv.URL, "expectStatus": 42}, fails: true},
		"no url":              {in: steps.Inputs{}, fails: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := HTTP{}.Apply(context.Background(), &steps.Env{}, tc.in)
			if tc.fails {
				if err == nil {
					t.Fatalf("want a failure, got %v", out)
				}
				if fleet.IsTransient(err) != tc.transient {
					t.Fatalf("transient = %t, want %t: %v", fleet.IsTransient(err), tc.transient, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out["status"] != tc.status {
				t.Fatalf("outputs %v", out)
			}
		})
	}
}

func TestApprove(t *testing.T) {
	cases := map[string]struct {
		in   steps.Inputs
		need bool
	}{
		"default":          {steps.Inputs{}, true},
		"required":         {steps.Inputs{"required": true}, true},
		"optional off":     {steps.Inputs{"required": false}, false},
		"optional as text": {steps.Inputs{"required": "false"}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := (Approve{}).NeedsApproval(tc.in); got != tc.need {
				t.Fatalf("NeedsApproval = %t", got)
			}
			done, err := Approve{}.Observe(context.Background(), &steps.Env{}, tc.in)
			if err != nil || done == tc.need {
				t.Fatalf("Observe = %t, %v", done, err)
			}
		})
	}
	if err := (Approve{}).Rollback(context.Background(), &steps.Env{}, nil); !errors.Is(err, steps.ErrNoRollback) {
		t.Fatal(err)
	}
}

// TestSecretReferences: env:/file: references in exec env and http headers
// reach the command and the server, and never the outputs or errors.
func TestSecretReferences(t *testing.T) {
	dir := t.TempDir()
	const planted = "Hunter2planted"
	if err := os.WriteFile(filepath.Join(dir, "pw.txt"), []byte(planted+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLEETPLAN_TEST_GENERIC_TOKEN", planted)
	env := &steps.Env{BaseDir: dir}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("seen " + r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	cases := map[string]struct {
		run       func() (steps.Outputs, error)
		want      string // in the outputs, redacted
		errSubstr string
	}{
		"exec file:": {run: func() (steps.Outputs, error) {
			return Exec{}.Apply(context.Background(), env, steps.Inputs{"command": "echo pw=$PW", "env": map[string]any{"PW": "file:pw.txt"}})
		}, want: "pw=[secret]"},
		"exec env:": {run: func() (steps.Outputs, error) {
			return Exec{}.Apply(context.Background(), env, steps.Inputs{"command": "echo pw=$PW", "env": map[string]any{"PW": "env:FLEETPLAN_TEST_GENERIC_TOKEN"}})
		}, want: "pw=[secret]"},
		"exec error": {run: func() (steps.Outputs, error) {
			return Exec{}.Apply(context.Background(), env, steps.Inputs{"command": "echo bad $PW >&2; exit 2", "env": map[string]any{"PW": "file:pw.txt"}})
		}, errSubstr: "exit status 2: bad [secret]"},
		"exec file outside": {run: func() (steps.Outputs, error) {
			return Exec{}.Apply(context.Background(), env, steps.Inputs{"command": "true", "env": map[string]any{"PW": "file:/etc/passwd"}})
		}, errSubstr: "outside the plan repository"},
		"exec env unset": {run: func() (steps.Outputs, error) {
			return Exec{}.Apply(context.Background(), env, steps.Inputs{"command": "true", "env": map[string]any{"PW": "env:FLEETPLAN_TEST_GENERIC_NOPE"}})
		}, errSubstr: "FLEETPLAN_TEST_GENERIC_NOPE is not set"},
		"http header": {run: func() (steps.Outputs, error) {
			return HTTP{}.Apply(context.Background(), env, steps.Inputs{"url": srv.URL, "headers": map[string]any{"Authorization": "file:pw.txt"}})
		}, want: "seen [secret]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := tc.run()
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("want an error with %q, got %v", tc.errSubstr, err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			all := fmt.Sprint(out, err)
			if strings.Contains(all, planted) {
				t.Fatalf("the secret leaked: %s", all)
			}
			if tc.want != "" && out["stdout"] != tc.want && out["body"] != tc.want {
				t.Fatalf("outputs %v, want %q", out, tc.want)
			}
		})
	}
}
