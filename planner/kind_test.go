package planner

import (
	"context"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
)

type fakeKind struct{ name string }

func (k fakeKind) Name() string { return k.name }
func (fakeKind) Plan(context.Context, *plans.Document, fleet.Target, Options) (*stepgraph.Graph, diag.List) {
	return nil, nil
}
func (fakeKind) Fingerprint(context.Context, *plans.Document, fleet.Target) (string, error) {
	return "", nil
}

func TestRegisterKind(t *testing.T) {
	RegisterKind(fakeKind{"TestKind"})
	t.Cleanup(func() {
		kindsMu.Lock()
		delete(kinds, "TestKind")
		kindsMu.Unlock()
	})
	if k, ok := KindNamed("TestKind"); !ok || k.Name() != "TestKind" {
		t.Fatalf("KindNamed = %v, %t", k, ok)
	}
	if _, ok := KindNamed("Nope"); ok {
		t.Fatal("an unregistered kind was found")
	}
	defer func() {
		if r, _ := recover().(string); !strings.Contains(r, "kind TestKind registered twice") {
			t.Fatalf("second registration: panic %q", r)
		}
	}()
	RegisterKind(fakeKind{"TestKind"})
}
