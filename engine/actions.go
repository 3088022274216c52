package engine

import (
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/schema"
	"github.com/fleetplan/fleetplan/steps"
)

// CheckActions reports every step (and rollback step) of the loaded documents
// and templates whose action is not registered, so `validate` catches a
// misspelt action before anything is planned. plans cannot know the registry;
// this is the first stage that does.
func CheckActions(set *plans.Set) diag.List {
	var diags diag.List
	known := steps.Names()
	check := func(s *plans.StepSpec, what string) {
		if s == nil || s.Action == "" {
			return
		}
		if _, err := steps.Lookup(s.Action); err == nil {
			return
		}
		pos := s.ActionPos
		if pos.Line == 0 {
			pos = s.Pos
		}
		d := diags.Errorf(pos, "%s: unknown action %q", what, s.Action)
		if near := schema.Suggest(s.Action, known); near != "" {
			d.WithHint("did you mean %q?", near)
		} else {
			d.WithHint("known actions: %v", known)
		}
	}
	seen := map[*plans.StepSpec]bool{}
	for _, doc := range set.Documents {
		all := doc.Steps
		if doc.Template() != nil {
			all = append(append([]*plans.StepSpec(nil), all...), doc.Template().Steps...)
		}
		for _, s := range all {
			if seen[s] {
				continue
			}
			seen[s] = true
			check(s, "step \""+s.ID+"\"")
			check(s.Rollback, "rollback of step \""+s.ID+"\"")
		}
	}
	return diags
}
