package database

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// RunScript runs a SQL script (an upgrade script) in one transaction.
//
// Inputs: server, database; file (a path relative to the plan's folder) or
// sql (the script inline); estimate (how long it runs, for previews). Observe: the script (by content) already ran in
// the database. Apply: runs it; a failing script changes nothing, and a
// read-only database refuses it with a read-only error. The database records
// the script, so running it again is a no-op. Rollback: none (the usual
// compensation is dropping the upgraded copy). Estimate: the plan's hint;
// without one, a nominal minute.
type RunScript struct{}

type scriptArgs struct {
	loc    fleet.Location
	file   string // as given
	inline string
}

func runArgs(env *steps.Env, in steps.Inputs) (scriptArgs, error) {
	spec, err := steps.ParseSpec[stepspec.RunScript](in)
	s := scriptArgs{loc: steps.LocationOf(spec.Location), file: spec.File, inline: spec.SQL}
	if err != nil {
		return s, err
	}
	if (s.file == "") == (s.inline == "") {
		return s, &fleet.Error{Op: stepspec.RunScriptName, Target: s.loc.String(), Err: fmt.Errorf("%w: give exactly one of file and sql", fleet.ErrInvalidArgument)}
	}
	return s, nil
}

// text reads the script. The file must lie inside the plan repository; it is
// checked every time, since it can change between plan and apply.
func (s scriptArgs) text(env *steps.Env) (string, error) {
	if s.file == "" {
		return s.inline, nil
	}
	b, err := env.ReadFile("file", s.file)
	if err != nil {
		return "", &fleet.Error{Op: stepspec.RunScriptName, Target: s.loc.String(), Err: err}
	}
	return string(b), nil
}

// ran wraps the error of running the script: a file's contents never appear
// in a message.
func (s scriptArgs) ran(err error) error {
	if s.file == "" {
		return err
	}
	return steps.ScriptError(s.file, err)
}

// Observe implements steps.Action. A missing script file is an error, so a
// plan naming one fails at planning rather than half-way through a run.
func (RunScript) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	s, err := runArgs(env, in)
	if err != nil {
		return false, err
	}
	script, err := s.text(env)
	if err != nil {
		return false, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return false, err
	}
	if _, ok, err := lookup(ctx, cp, s.loc); !ok {
		return false, err
	}
	done, err := cp.ScriptApplied(ctx, s.loc, script)
	return done, s.ran(err)
}

// Apply implements steps.Action.
func (RunScript) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	s, err := runArgs(env, in)
	if err != nil {
		return nil, err
	}
	script, err := s.text(env)
	if err != nil {
		return nil, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.RunScriptName); err != nil {
		return nil, err
	}
	applied, err := cp.RunScript(ctx, s.loc, script)
	if err != nil {
		return nil, s.ran(err)
	}
	name := s.file
	if name == "" {
		name = "inline script"
	}
	if applied {
		env.Logf("ran %s in %s", name, s.loc)
	} else {
		env.Logf("%s had already run in %s", name, s.loc)
	}
	return steps.Outputs{"applied": applied, "bytes": len(script)}, nil
}

// FileInputs implements steps.FileUser.
func (RunScript) FileInputs() []string {
	var in stepspec.RunScript
	return []string{stepspec.KeyOf(&in, &in.File)}
}

// Rollback implements steps.Action.
func (RunScript) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}

// Estimate implements steps.Action: the estimate input (the plan's hint,
// like "45s") when given.
func (RunScript) Estimate(in steps.Inputs) steps.Estimate {
	if spec, _ := steps.ParseSpec[stepspec.RunScript](in); spec.Estimate > 0 {
		return steps.Estimate{Duration: spec.Estimate, Basis: "the plan's estimate", Hint: true}
	}
	return steps.Estimate{Duration: time.Minute, Basis: "nominal: give the script an estimate, or run it once to measure it"}
}

// Refs implements steps.Referrer.
func (RunScript) Refs(in steps.Inputs) []steps.Ref {
	spec, _ := steps.ParseSpec[stepspec.RunScript](in)
	return databaseRefs(spec.Location)
}
