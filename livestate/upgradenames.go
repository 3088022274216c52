package livestate

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/schema"
	"github.com/fleetplan/fleetplan/steps"
)

// checkUpgradeNames refuses a step-running plan whose steps name fleet
// objects that are not there: the first step (in plan order) that names a
// database, slot or endpoint and only reads it needs it to exist, since no
// earlier step made it; and every traffic-manager profile a step names must
// exist (no step creates profiles). A misspelt server or slot in with: is
// then reported at plan time, at the with: value that names it, instead of
// failing the run half-way.
func checkUpgradeNames(ctx context.Context, doc *plans.Document, u *upgradeLive) diag.List {
	var diags diag.List
	if u.cp == nil {
		return diags
	}
	if doc.RollingUpgrade() != nil && doc.RollingUpgrade().Desired != (plans.UpgradeDesired{}) {
		if reached, _, err := u.Desired(ctx, doc.RollingUpgrade().Desired); err == nil && reached {
			return diags // done: what the steps read may be gone, and nothing runs
		}
	}
	n := &nameCheck{u: u, doc: doc, seen: map[string]bool{}}
	for _, s := range doc.Steps {
		a, err := steps.Lookup(s.Action)
		if err != nil {
			continue // validate reports unknown actions
		}
		r, ok := a.(steps.Referrer)
		if !ok {
			continue
		}
		in, resolved, err := u.inputs(ctx, s.With, s.Params)
		if err != nil || !resolved {
			continue // Facts reports input errors
		}
		if f, err := u.Facts(ctx, s); err == nil && f.Live {
			// Done already: it runs no more, and what it read may be gone.
			for _, ref := range r.Refs(in) {
				n.seen[refKey(ref)] = true
			}
			continue
		}
		for _, ref := range r.Refs(in) {
			if err := n.check(ctx, s, ref, &diags); err != nil {
				diags.Errorf(n.stepPos(s), "step %q: %v", s.ID, err).WithHint("the target's control plane must answer for the objects the steps name")
				return diags
			}
		}
	}
	return diags
}

type nameCheck struct {
	u    *upgradeLive
	doc  *plans.Document
	seen map[string]bool
}

func (n *nameCheck) check(ctx context.Context, s *plans.StepSpec, ref steps.Ref, diags *diag.List) error {
	key := refKey(ref)
	first := !n.seen[key]
	n.seen[key] = true
	if ref.Kind == steps.RefEndpoint {
		profile, _, _ := strings.Cut(ref.Name, "/")
		if !n.seen["profile "+strings.ToLower(profile)] {
			n.seen["profile "+strings.ToLower(profile)] = true
			known, err := n.profiles(ctx)
			if err != nil {
				return err
			}
			if !containsFold(known, profile) {
				n.report(diags, s, "traffic-manager profile", profile, profile, known)
				return nil
			}
		}
	}
	if !first || ref.Changes {
		return nil
	}
	state, err := n.u.describe(ctx, key)
	if err != nil || state != "absent" {
		return err
	}
	known, err := n.known(ctx, ref.Kind, ref.Name)
	if err != nil {
		return err
	}
	what, name, value := ref.Kind, ref.Name, ref.Name
	switch ref.Kind {
	case steps.RefDatabase:
		server, db, _ := strings.Cut(ref.Name, "/")
		value = db
		servers := serversOf(known)
		if sl, ok := n.u.target.(fleet.ServerLister); ok {
			if servers, err = sl.Servers(ctx); err != nil {
				return err
			}
		}
		if !containsFold(servers, server) {
			what, name, value, known = "server", server, server, servers
		}
	case steps.RefEndpoint:
		_, value, _ = strings.Cut(ref.Name, "/")
	}
	n.report(diags, s, what, name, value, known)
	return nil
}

// report says that step s names a missing object, at the with: value that
// names it when the plan's parameters hold it, else at the step.
func (n *nameCheck) report(diags *diag.List, s *plans.StepSpec, what, name, value string, known []string) {
	pos, from := n.stepPos(s), ""
	if p, ok := n.valuePos(value); ok {
		pos = p
		from = fmt.Sprintf(" (read by step %q, %s)", s.ID, s.Action)
	} else if pos != s.Pos {
		from = fmt.Sprintf(" (step %q at %s)", s.ID, s.Pos)
	}
	d := diags.Errorf(pos, "%s %s does not exist in target %q and no earlier step creates it%s", what, name, n.u.target.Name(), from)
	sug := schema.Suggest(value, known)
	if sug == "" {
		sug = schema.Suggest(name, known)
	}
	list := strings.Join(known, ", ")
	if len(known) > 12 {
		list = strings.Join(known[:12], ", ") + fmt.Sprintf(", and %d more", len(known)-12)
	}
	if sug != "" {
		d.WithHint("did you mean %q? %ss: %s", sug, what, list)
	} else {
		d.WithHint("%ss: %s", what, orNoneText(list))
	}
}

func orNoneText(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// stepPos is where a step is reported: its own position in the plan, or the
// plan's uses: for a template's step.
func (n *nameCheck) stepPos(s *plans.StepSpec) diag.Pos {
	if s.Pos.File == n.doc.File || n.doc.RollingUpgrade() == nil || n.doc.RollingUpgrade().UsesPos.Line == 0 {
		return s.Pos
	}
	return n.doc.RollingUpgrade().UsesPos
}

// valuePos finds the with: value that is exactly value (the deepest path
// first, then by name, so the answer does not depend on map order).
func (n *nameCheck) valuePos(value string) (diag.Pos, bool) {
	var paths []string
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case string:
			if strings.EqualFold(x, value) {
				paths = append(paths, path)
			}
		case map[string]any:
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(e, p)
			}
		}
	}
	walk(n.doc.Params, "")
	sort.Strings(paths)
	for _, p := range paths {
		if pos, ok := n.doc.ParamPos[p]; ok {
			return pos, true
		}
	}
	return diag.Pos{}, false
}

func (n *nameCheck) profiles(ctx context.Context) ([]string, error) {
	ps, err := n.u.cp.Profiles(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out, nil
}

// known lists the objects of a kind the fleet has, for did-you-mean hints.
func (n *nameCheck) known(ctx context.Context, kind, name string) ([]string, error) {
	var out []string
	switch kind {
	case steps.RefDatabase:
		admin, ok := n.u.target.(fleet.DatabaseAdmin)
		if !ok {
			return nil, nil
		}
		dbs, err := admin.Databases(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range dbs {
			out = append(out, d.String())
		}
	case steps.RefSlot:
		slots, err := n.u.cp.Slots(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range slots {
			out = append(out, s.Name)
		}
	case steps.RefEndpoint:
		profile, _, _ := strings.Cut(name, "/")
		p, err := n.u.cp.Profile(ctx, profile)
		if err != nil {
			return nil, nil
		}
		for _, e := range p.Endpoints {
			out = append(out, e.Name)
		}
	}
	return out, nil
}

// serversOf lists the servers of "server/database" names.
func serversOf(dbs []string) []string {
	var out []string
	for _, d := range dbs {
		s, _, _ := strings.Cut(d, "/")
		if !containsFold(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
