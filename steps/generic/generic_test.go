package generic

import (
	"context"
	"errors"
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
