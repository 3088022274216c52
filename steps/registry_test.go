package steps

import (
	"context"
	"strings"
	"testing"
)

type inert struct{}

func (inert) Observe(context.Context, *Env, Inputs) (bool, error)  { return false, nil }
func (inert) Apply(context.Context, *Env, Inputs) (Outputs, error) { return nil, nil }
func (inert) Rollback(context.Context, *Env, Inputs) error         { return ErrNoRollback }
func (inert) Estimate(Inputs) Estimate                             { return Estimate{Basis: "none"} }

func TestUnknownActionSaysForgottenImport(t *testing.T) {
	Register("test.inert", inert{})
	_, err := Lookup("test.inret")
	if err == nil || !strings.Contains(err.Error(), `unknown action "test.inret" (forgotten import?)`) || !strings.Contains(err.Error(), "test.inert") {
		t.Fatalf("want an error naming a forgotten import and the registered actions, got %v", err)
	}
	if got := RegisteredBy("test.inert"); got != "github.com/fleetplan/fleetplan/steps" {
		t.Fatalf("RegisteredBy = %q, want this package", got)
	}
}
