package plans

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/schema"
)

// stepDraft is one step as written, before template expansion.
type stepDraft struct {
	spec   *StepSpec // With, Rollback.With and Outputs as written
	o      obj       // the step's mapping
	uses   string
	target *templateFile // resolved uses; nil when unresolved
}

// usesOnlyFields are the fields a step with uses: may have.
var usesOnlyFields = map[string]bool{"id": true, "uses": true, "with": true, "needs": true}

// parseSteps reads a list of steps (field k of parent) and checks ids,
// needs and dependency cycles.
func (l *loader) parseSteps(parent obj, k string) []*stepDraft {
	var drafts []*stepDraft
	for _, it := range parent.items(k) {
		if it.m == nil {
			continue
		}
		d := l.parseStep(it)
		drafts = append(drafts, d)
	}
	l.checkStepGraph(drafts)
	return drafts
}

func (l *loader) parseStep(it obj) *stepDraft {
	id := it.str("id")
	sp := &StepSpec{
		ID: id, Action: it.str("action"), Needs: it.strings("needs"), Approval: it.boolean("approval"),
		Timeout: it.duration("timeout"), Estimate: it.duration("estimate"), Pos: it.at(), ActionPos: it.pos("action"),
	}
	sp.With, _ = it.m["with"].(map[string]any)
	it.compileInterps(it.child("with"), sp.With)
	if w := it.obj("with"); sp.Action == "generic.wait" && !expression.HasInterpolation(w.str("until")) {
		w.compileGuard("until", fmt.Sprintf("step %q until", id))
	}
	if src := it.str("guard"); src != "" {
		sp.Guard = &Guard{Name: id, Expr: src, Pos: it.pos("guard"), Program: it.compileGuard("guard", fmt.Sprintf("step %q guard", id))}
	}
	if w := it.obj("wait"); w.m != nil {
		sp.Wait = &WaitSpec{Timeout: w.duration("timeout"), Interval: w.duration("interval")}
		if sp.Guard == nil {
			l.diags.Errorf(it.keyPos("wait"), "step %q: wait: polls the guard, but the step has no guard", id).WithHint("add a guard: expression for wait: to poll, or remove wait:")
		}
	}
	sp.Retry = retrySpec(it.obj("retry"))
	if rb := it.obj("rollback"); rb.m != nil {
		sp.Rollback = &StepSpec{Action: rb.str("action"), Timeout: rb.duration("timeout"), Retry: retrySpec(rb.obj("retry")), Pos: rb.at(), ActionPos: rb.pos("action")}
		sp.Rollback.With, _ = rb.m["with"].(map[string]any)
		rb.compileInterps(rb.child("with"), sp.Rollback.With)
		rb.compileInterps(rb.child("keepOnFailure"), rb.m["keepOnFailure"])
		sp.Rollback.KeepOnFailure = truthy(rb.m["keepOnFailure"])
	}
	if outs := it.stringMap("outputs"); outs != nil {
		sp.Outputs = outs
		it.compileInterps(it.child("outputs"), it.m["outputs"])
	}
	d := &stepDraft{spec: sp, o: it, uses: it.str("uses")}
	switch {
	case sp.Action == "" && d.uses == "":
		if it.has("id") && !it.has("action") && !it.has("uses") {
			l.diags.Errorf(it.at(), "step %q needs action: or uses:", id).
				WithHint("action names what the step does (like database.set-read-only); uses runs a template")
		}
	case sp.Action != "" && d.uses != "":
		l.diags.Errorf(it.keyPos("uses"), "step %q has both action: and uses:; give one", id).WithHint("action: runs one action; uses: runs a template; keep one of them")
	case d.uses != "":
		for k := range it.m {
			if !usesOnlyFields[k] {
				l.diags.Errorf(it.keyPos(k), "step %q: %s: has no effect on a step with uses:", id, k).
					WithHint("a step with uses: takes only id, uses, with and needs; put %s on the template's steps", k)
			}
		}
		d.target = l.templateRef(it, "uses")
	}
	return d
}

// truthy reads a resolved boolean field: true, or text that says true.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(strings.TrimSpace(x), "true")
	}
	return false
}

func retrySpec(o obj) *RetrySpec {
	if o.m == nil {
		return nil
	}
	return &RetrySpec{Attempts: o.integer("attempts", 0), Initial: o.duration("initial"), Max: o.duration("max"), Budget: o.duration("budget")}
}

// checkStepGraph reports duplicate ids, unknown needs and dependency cycles,
// each at the position of the offending entry.
func (l *loader) checkStepGraph(drafts []*stepDraft) {
	byID := map[string]*stepDraft{}
	var ids []string
	for _, d := range drafts {
		id := d.spec.ID
		if id == "" {
			continue
		}
		if first, dup := byID[id]; dup {
			l.diags.Errorf(d.o.pos("id"), "duplicate step id %q (first defined at line %d)", id, first.o.pos("id").Line).WithHint("step ids must be unique in a plan; rename one of them")
			continue
		}
		byID[id] = d
		ids = append(ids, id)
	}
	for _, d := range drafts {
		for i, n := range d.spec.Needs {
			pos := d.o.d.pos(fmt.Sprintf("%s/%d", d.o.child("needs"), i))
			switch _, ok := byID[n]; {
			case n == d.spec.ID:
				l.diags.Errorf(pos, "step %q needs itself", n).WithHint("remove %q from its own needs", n)
			case !ok:
				e := l.diags.Errorf(pos, "step %q needs unknown step %q", d.spec.ID, n)
				if sug := schema.Suggest(n, ids); sug != "" {
					e.WithHint("did you mean %q?", sug)
				} else if len(ids) > 0 {
					e.WithHint("steps: %s", strings.Join(ids, ", "))
				} else {
					e.WithHint("needs names the ids of other steps of this plan")
				}
			}
		}
	}
	// Depth-first in file order; a back edge closes a cycle, reported at the
	// needs entry that closes it.
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(d *stepDraft)
	visit = func(d *stepDraft) {
		state[d.spec.ID] = active
		stack = append(stack, d.spec.ID)
		for i, n := range d.spec.Needs {
			next, ok := byID[n]
			if !ok || n == d.spec.ID {
				continue
			}
			switch state[n] {
			case active:
				start := indexOf(stack, n)
				cycle := append(append([]string{}, stack[start:]...), n)
				key := cycleKey(cycle[:len(cycle)-1])
				if !reported[key] {
					reported[key] = true
					l.diags.Errorf(d.o.d.pos(fmt.Sprintf("%s/%d", d.o.child("needs"), i)), "dependency cycle: %s", strings.Join(cycle, " -> ")).
						WithHint("remove one of these needs")
				}
			case unseen:
				visit(next)
			}
		}
		stack = stack[:len(stack)-1]
		state[d.spec.ID] = done
	}
	for _, id := range ids {
		if state[id] == unseen {
			visit(byID[id])
		}
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// cycleKey identifies a cycle whatever node it starts at.
func cycleKey(nodes []string) string {
	min := 0
	for i, n := range nodes {
		if n < nodes[min] {
			min = i
		}
	}
	return strings.Join(append(append([]string{}, nodes[min:]...), nodes[:min]...), "\x00")
}

// stepSource reads uses:/with:/steps: of a plan spec and queues the
// expansion that fills doc.Steps and doc.Params. required says the kind
// cannot do without steps.
func (l *loader) stepSource(doc *Document, spec obj, required bool) {
	hasUses, hasSteps := spec.has("uses"), spec.has("steps")
	switch {
	case hasUses && hasSteps:
		l.diags.Errorf(spec.keyPos("steps"), "give either uses: (a template) or steps:, not both").WithHint("a template brings its own steps; remove steps: or uses:")
	case !hasUses && !hasSteps && required && spec.m != nil:
		l.diags.Errorf(spec.selfKeyPos(), "missing steps: give uses: (a template, with with: for its parameters) or steps:").WithHint("for example uses: builtin:geo-rolling-upgrade-single-region (see fleetplan templates), or steps: [{id, action, with}]")
	case spec.has("with") && !hasUses:
		l.diags.Errorf(spec.keyPos("with"), "with: passes parameters to a template, but there is no uses:").WithHint("add uses: naming the template, or remove with:")
	}
	spec.compileInterps(spec.child("with"), spec.m["with"])
	p := &pendingExpansion{doc: doc, spec: spec}
	if hasUses && !hasSteps {
		p.target = l.templateRef(spec, "uses")
	} else {
		p.drafts = l.parseSteps(spec, "steps")
		l.checkParamUses(paramUses(obj{}, p.drafts), nil, false, inlineSteps)
	}
	l.pending = append(l.pending, p)
}

// pendingExpansion is a plan document whose steps are expanded once every
// file is loaded and template cycles are known.
type pendingExpansion struct {
	doc    *Document
	spec   obj
	drafts []*stepDraft  // inline steps
	target *templateFile // or the template of uses:
}

// expandAll fills Steps and Params of every plan document.
func (l *loader) expandAll() {
	for _, p := range l.pending {
		before := len(l.diags.Errors())
		if p.target != nil {
			p.doc.addRead(p.target.key)
			if params, ok := l.bind(p.target, p.spec, nil); ok && !p.target.cyclic {
				p.doc.Params = params
				p.doc.ParamPos = valuePositions(p.spec, "with")
				p.doc.Steps = l.expand(p.doc, p.target.drafts, params, "", &p.spec)
			}
		} else {
			p.doc.Steps = l.expand(p.doc, p.drafts, nil, "", nil)
		}
		if len(l.diags.Errors()) > before {
			l.failed[p.doc] = true
		}
	}
}

// expand turns drafts into steps: params-only interpolations are resolved
// with params, uses: steps are replaced by their template's steps (ids
// prefixed "<id>."), and needs on such a step become needs on its last steps.
//
// caller is the mapping whose with: gave params (nil for inline steps), so a
// path input that comes from a parameter is reported where it was written.
func (l *loader) expand(doc *Document, drafts []*stepDraft, params map[string]any, prefix string, caller *obj) []*StepSpec {
	var out []*StepSpec
	groups := map[string][]string{}
	for _, d := range drafts {
		id := prefix + d.spec.ID
		needs := make([]string, len(d.spec.Needs))
		for i, n := range d.spec.Needs {
			needs[i] = prefix + n
		}
		if d.uses != "" {
			if d.target == nil || d.target.cyclic {
				continue
			}
			doc.addRead(d.target.key)
			child, ok := l.bind(d.target, d.o, params)
			if !ok {
				continue
			}
			sub := l.expand(doc, d.target.drafts, child, id+".", &d.o)
			needed := map[string]bool{}
			for _, s := range sub {
				for _, n := range s.Needs {
					needed[n] = true
				}
			}
			for _, s := range sub {
				if len(s.Needs) == 0 {
					s.Needs = append([]string(nil), needs...)
				}
				if !needed[s.ID] {
					groups[id] = append(groups[id], s.ID)
				}
			}
			out = append(out, sub...)
			continue
		}
		sp := *d.spec
		sp.ID, sp.Needs, sp.Params = id, needs, params
		sp.With, _ = l.resolve(d.o, "with", params).(map[string]any)
		l.checkPathInputs(doc, sp.Action, d.o, sp.With, caller)
		d.o.checkParamsGuard(sp.Guard, params)
		if d.spec.Rollback != nil {
			rb := *d.spec.Rollback
			rb.Params = params
			rb.With, _ = l.resolve(d.o.obj("rollback"), "with", params).(map[string]any)
			l.checkPathInputs(doc, rb.Action, d.o.obj("rollback"), rb.With, caller)
			rb.KeepOnFailure = truthy(l.resolve(d.o.obj("rollback"), "keepOnFailure", params))
			sp.Rollback = &rb
		}
		if d.spec.Outputs != nil {
			outs, _ := l.resolve(d.o, "outputs", params).(map[string]any)
			sp.Outputs = map[string]string{}
			for k, v := range outs {
				sp.Outputs[k] = expression.Stringify(v)
			}
		}
		out = append(out, &sp)
	}
	for _, s := range out {
		var needs []string
		for _, n := range s.Needs {
			if sinks, ok := groups[n]; ok {
				needs = appendUnique(needs, sinks...)
			} else {
				needs = appendUnique(needs, n)
			}
		}
		s.Needs = needs
	}
	return out
}

func appendUnique(list []string, items ...string) []string {
	for _, it := range items {
		if indexOf(list, it) < 0 {
			list = append(list, it)
		}
	}
	return list
}

// checkParamsGuard runs a guard that reads only params (known once the
// template is bound), so a guard that cannot be evaluated (a budget, a
// missing parameter) is refused at load, not when its step runs. What it
// yields is for the run to decide.
func (o obj) checkParamsGuard(g *Guard, params map[string]any) {
	if g == nil || g.Program == nil || !g.Program.OnlyReferences("params") {
		return
	}
	_, err := g.Program.EvalBool(expression.Within(&expression.Env{Params: params}, o.d.budget))
	if err == nil {
		return
	}
	pos := o.exprPos(o.child("guard"), err)
	for _, d := range *o.diags {
		if d.Severity == diag.Error && d.Pos == pos {
			return // already refused there (a parameter the template lacks)
		}
	}
	o.exprError(o.child("guard"), fmt.Sprintf("step %q guard", g.Name), err)
}

// resolve returns field k of o with every interpolation that mentions only
// params (or nothing) evaluated; the others stay as written for the runner.
func (l *loader) resolve(o obj, k string, params map[string]any) any {
	env := expression.Within(&expression.Env{Params: params}, o.d.budget)
	var walk func(v any, ptr string) any
	walk = func(v any, ptr string) any {
		switch x := v.(type) {
		case string:
			if !expression.HasInterpolation(x) {
				return x
			}
			t, err := expression.CompileInterpIn(o.d.budget, x)
			if err != nil {
				return x // reported when the file was loaded
			}
			r, err := t.Partial(env, "params")
			if err != nil {
				o.exprError(ptr, schema.Path(ptr), err)
				return x
			}
			return r
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e, fmt.Sprintf("%s/%d", ptr, i))
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(x))
			for key, e := range x {
				child := ptr + "/" + schema.Escape(key)
				out[key] = walk(e, child)
				if why, hint := resolvedSecret(key, stringOf(e), out[key]); why != "" {
					l.diags.Errorf(o.d.pos(child), "%s", why).WithHint("%s", hint)
				}
			}
			return out
		}
		return v
	}
	return walk(o.m[k], o.child(k))
}

// bind checks the with: of caller against the template's parameters and
// returns the arguments with defaults filled in. with: values are first
// resolved with the caller's own params.
func (l *loader) bind(t *templateFile, caller obj, callerParams map[string]any) (map[string]any, bool) {
	args, _ := l.resolve(caller, "with", callerParams).(map[string]any)
	if args == nil {
		args = map[string]any{}
	}
	if t.params == nil {
		if t.paramsBroken {
			return nil, false
		}
		if len(args) > 0 {
			l.diags.Errorf(caller.keyPos("with"), "template %q takes no parameters", t.display).
				WithHint("remove with:, or declare parameters: in the template")
			return nil, false
		}
		return args, true
	}
	loc := func(ptr string) schema.Loc {
		if !caller.has("with") {
			return schema.Loc{Key: caller.keyPos("uses"), Value: caller.pos("uses")}
		}
		return caller.d.loc(caller.child("with") + ptr)
	}
	diags := t.params.Validate(args, loc, "with")
	for i := range diags {
		diags[i].Message = fmt.Sprintf("template %s: %s", t.display, diags[i].Message)
	}
	l.diags.Add(diags...)
	if diags.HasErrors() {
		return nil, false
	}
	out, _ := t.params.Defaults(args).(map[string]any)
	before := len(l.diags.Errors())
	l.checkParamValues(t, caller, out)
	return out, len(l.diags.Errors()) == before
}

// valuePositions maps the dotted path of every value under field k of o
// (maps only) to its position.
func valuePositions(o obj, k string) map[string]diag.Pos {
	out := map[string]diag.Pos{}
	var walk func(v any, ptr, path string)
	walk = func(v any, ptr, path string) {
		if path != "" {
			out[path] = o.d.pos(ptr)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for key, e := range m {
			p := key
			if path != "" {
				p = path + "." + key
			}
			walk(e, ptr+"/"+schema.Escape(key), p)
		}
	}
	walk(o.m[k], o.child(k), "")
	return out
}

func stringOf(v any) string { s, _ := v.(string); return s }
