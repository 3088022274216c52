package plans

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The kinds fleetplan ships are listed in documentation order, Template
// last; a kind registered later takes the place its Order gives it.
func TestKindsInDocumentationOrder(t *testing.T) {
	shipped := []string{KindShardLayout, KindRollingUpgrade, KindInstanceChange, KindShardMapRecovery, KindTemplate}
	var got []string
	for _, k := range Kinds() {
		if slices.Contains(shipped, k) {
			got = append(got, k)
		}
	}
	if !slices.Equal(got, shipped) {
		t.Errorf("Kinds() = %v, want the shipped kinds in the order %v", Kinds(), shipped)
	}
	if all := Kinds(); all[len(all)-1] != KindTemplate {
		t.Errorf("Kinds() = %v, want Template last", all)
	}
	dir := writeFiles(t, map[string]string{"plan.yaml": "apiVersion: fleetplan/v1\nmetadata: {name: x}\nspec: {}\n"})
	_, diags := Load(filepath.Join(dir, "plan.yaml"))
	if want := "kind is one of " + strings.Join(Kinds(), ", "); len(diags) != 1 || diags[0].Hint != want {
		t.Errorf("missing kind: %v, want the hint %q", diags, want)
	}
}

func TestRegisterKindRefusesDuplicatesAndMissingDecoders(t *testing.T) {
	for _, k := range []KindDef{
		{Name: KindShardLayout, Decode: func(*SpecDecoder) any { return nil }},
		{Name: "NoDecoder"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterKind(%s) did not panic", k.Name)
				}
			}()
			RegisterKind(k)
		}()
	}
	if slices.Contains(Kinds(), "NoDecoder") {
		t.Error("a kind without a decoder was registered")
	}
}
