package livestate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/schema"
	"github.com/fleetplan/fleetplan/stepgraph"
	"github.com/fleetplan/fleetplan/stepspec"
)

// A kind defined only in this file, the way a new kind is defined in its
// own files: a schema (here given to schema.Add instead of a file in
// schema/kinds), a plans.KindDef with its decoder, and a planner.Kind. It
// loads, validates against its schema, is listed where the kinds are
// listed, and plans, with no edit to any other file.
const scratchKind = "ScratchNote"

const scratchSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://fleetplan.dev/schema/v1/scratchnote.json",
  "type": "object",
  "additionalProperties": false,
  "required": ["apiVersion", "kind", "metadata", "spec"],
  "properties": {
    "apiVersion": {"$ref": "defs.json#/$defs/apiVersion"},
    "kind": {"const": "ScratchNote"},
    "metadata": {"$ref": "defs.json#/$defs/metadata"},
    "spec": {
      "type": "object",
      "additionalProperties": false,
      "required": ["target", "note"],
      "properties": {
        "target": {"$ref": "defs.json#/$defs/target"},
        "note": {"type": "string", "minLength": 1},
        "copies": {"type": "integer", "minimum": 1}
      }
    }
  }
}`

type scratchNote struct {
	Target, Note string
	Copies       int
}

type scratchPlanner struct{}

func (scratchPlanner) Name() string { return scratchKind }

func (scratchPlanner) Plan(_ context.Context, doc *plans.Document, target fleet.Target, _ planner.Options) (*stepgraph.Graph, diag.List) {
	spec := doc.Spec.(*scratchNote)
	g := &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: doc.Kind, Plan: doc.Metadata.Name, Source: doc.File, Target: doc.Target}
	for i := range spec.Copies {
		g.Steps = append(g.Steps, &stepgraph.Step{ID: "note-" + string(rune('a'+i)), Action: stepspec.NoopName, Title: spec.Note + " on " + target.Name()})
	}
	return g, nil
}

func (scratchPlanner) Fingerprint(context.Context, *plans.Document, fleet.Target) (string, error) {
	return "scratch", nil
}

func registerScratchKind(t *testing.T) {
	t.Helper()
	if slices.Contains(plans.Kinds(), scratchKind) {
		return
	}
	if err := schema.Add([]byte(scratchSchema)); err != nil {
		t.Fatal(err)
	}
	plans.RegisterKind(plans.KindDef{Name: scratchKind, Order: 50, Decode: func(d *plans.SpecDecoder) any {
		n := &scratchNote{Target: d.Target(), Note: d.String("note"), Copies: d.Int("copies", 1)}
		if strings.Contains(n.Note, "TODO") {
			d.Errorf(d.Pos("note"), "spec.note: a note is not a TODO").WithHint("write what the note says")
		}
		return n
	}})
	planner.RegisterKind(scratchPlanner{})
}

func TestANewKindNeedsOnlyItsOwnFiles(t *testing.T) {
	registerScratchKind(t)
	ctx := context.Background()
	dir, tg := workspace(t)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := write("note.yaml", "apiVersion: fleetplan/v1\nkind: ScratchNote\nmetadata: {name: hello}\nspec: {target: local, note: hi, copies: 2}\n")
	doc, diags := loadDocument(t, good)
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if n, ok := doc.Spec.(*scratchNote); !ok || *n != (scratchNote{Target: "local", Note: "hi", Copies: 2}) || doc.Target != "local" || doc.Config == nil {
		t.Fatalf("decoded spec %#v, target %q, config %v", doc.Spec, doc.Target, doc.Config)
	}
	if doc.ShardLayout() != nil || doc.InstanceChange() != nil {
		t.Error("the accessors of other kinds return a spec for a ScratchNote document")
	}
	k, ok := planner.KindNamed(doc.Kind)
	if !ok {
		t.Fatal("the kind is not in the planner's table")
	}
	g, diags := k.Plan(ctx, doc, tg, planner.Options{})
	if diags.HasErrors() || g == nil || len(g.Steps) != 2 || g.Steps[1].Title != "hi on "+tg.Name() {
		t.Fatalf("plan = %+v, %v", g, diags)
	}

	// The schema, the decoder's own checks and the config's targets all
	// apply to it, at the positions written.
	for _, tc := range []struct{ body, want string }{
		{"spec: {target: local}\n", `bad.yaml:4:1: missing field "note" in spec (hint: add note: here; ` + "`fleetplan schema ScratchNote`" + ` prints what every field takes)`},
		{"spec: {target: local, note: TODO later}\n", `bad.yaml:4:29: spec.note: a note is not a TODO (hint: write what the note says)`},
		{"spec: {target: elsewhere, note: hi}\n", `bad.yaml:4:16: unknown target "elsewhere" (hint: targets in fleetplan.yaml: local)`},
	} {
		write("bad.yaml", "apiVersion: fleetplan/v1\nkind: ScratchNote\nmetadata: {name: bad}\n"+tc.body)
		t.Chdir(dir)
		_, diags := plans.Load("bad.yaml")
		if got := diags.Errors(); len(got) != 1 || got[0].String() != tc.want {
			t.Errorf("%s: got %v, want %s", strings.TrimSpace(tc.body), got, tc.want)
		}
	}

	// Every list of the kinds names it, in its place.
	missing := write("nokind.yaml", "apiVersion: fleetplan/v1\nmetadata: {name: x}\nspec: {}\n")
	_, diags = plans.Load(missing)
	kinds := plans.Kinds()
	if i := slices.Index(kinds, scratchKind); i < slices.Index(kinds, plans.KindShardMapRecovery) || i > slices.Index(kinds, plans.KindTemplate) {
		t.Errorf("plans.Kinds() = %v: want %s after the kinds ordered before 50 and before Template", kinds, scratchKind)
	}
	if want := "kind is one of " + strings.Join(kinds, ", "); len(diags) != 1 || diags[0].Hint != want {
		t.Errorf("missing kind: %v, want hint %q", diags, want)
	}
	typo := write("typo.yaml", "apiVersion: fleetplan/v1\nkind: ScratchNot\nmetadata: {name: x}\nspec: {target: local, note: hi}\n")
	_, diags = plans.Load(typo)
	if len(diags) != 1 || !strings.Contains(diags[0].String(), `unknown kind "ScratchNot" (hint: did you mean "ScratchNote"?)`) {
		t.Errorf("typo: %v", diags)
	}
	if !slices.Contains(schema.Names(), scratchKind) {
		t.Errorf("schema.Names() = %v", schema.Names())
	}
	if src, ok := schema.Source(scratchKind); !ok || !strings.Contains(string(src), `"apiVersion"`) {
		t.Errorf("schema.Source: %t %s", ok, src)
	}
}
