package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// LossChecker is implemented by actions that, run as a compensating step,
// could lose data written after the step they undo (moving traffic away from
// a database customers wrote to since the switch, dropping that database).
// The runner asks every compensation of a rollback before it runs any, so a
// refusal changes nothing. Both methods must not change anything; they
// return an error wrapping fleet.ErrWritesSinceSwitch when data would be
// lost and env.DiscardWritesSinceSwitch is not set.
type LossChecker interface {
	// CheckApply is asked before Apply(in) runs as a rollback branch.
	CheckApply(ctx context.Context, env *Env, in Inputs) error
	// CheckRollback is asked before Rollback(in) runs as the step's own
	// compensation.
	CheckRollback(ctx context.Context, env *Env, in Inputs) error
}

// Irreversible is implemented by actions whose effect cannot be undone (a
// dropped database): a step running one is a point of no return, and a
// rollback across it is refused before anything changes.
type Irreversible interface {
	// Removed says what a step with these inputs removed for good, as a
	// phrase in the past tense ("dropped database contoso-1/contoso"); ""
	// when these inputs remove nothing (a planned failover, unlike a
	// forced one).
	Removed(in Inputs) string
}

// IrreversibleWith reports whether a step of action a with inputs in is a
// point of no return, and what it removes.
func IrreversibleWith(a Action, in Inputs) (removed string, ok bool) {
	ir, is := a.(Irreversible)
	if !is {
		return "", false
	}
	removed = ir.Removed(in)
	return removed, removed != ""
}

// WritesSinceSwitch reports what was written to loc since traffic switched
// to it. tracked is false when the driver cannot tell, traffic never
// switched to loc, or loc does not exist (nothing there to lose).
func WritesSinceSwitch(ctx context.Context, env *Env, loc fleet.Location) (changes []fleet.TableChange, tracked bool, err error) {
	wt, ok := env.Target.(fleet.WriteTracker)
	if !ok {
		return nil, false, nil
	}
	changes, tracked, err = wt.WritesSinceSwitch(ctx, loc)
	if errors.Is(err, fleet.ErrNoDatabase) {
		return nil, false, nil
	}
	return changes, tracked, err
}

// KeptName is the name a compensating step gives a database it sets aside
// instead of dropping it: "<name>-kept-<run id>".
func KeptName(env *Env, database string) string {
	run := env.RunID
	if run == "" {
		run = "run"
	}
	return database + "-kept-" + run
}

// LossError explains a compensation refused because it would lose the
// writes made to loc since traffic switched to it. what says what was
// refused ("switch traffic back from contoso-2 to contoso-1"); serving says
// whether loc still serves (the run can then go on instead).
func LossError(op string, env *Env, what string, loc fleet.Location, changes []fleet.TableChange, serving bool) error {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.String()
	}
	run := env.RunID
	if run == "" {
		run = "RUN"
	}
	e := &fleet.Error{Op: op, Target: loc.String(),
		Err: fmt.Errorf("refusing to %s: %w (%s changed: %s)", what, fleet.ErrWritesSinceSwitch, Plural(len(changes), "table"), strings.Join(parts, "; ")),
		Hint: fmt.Sprintf("nothing was changed; `fleetplan rollback %s --discard-writes-since-switch` goes on "+
			"and keeps %s as %s (renamed, never dropped) so the rows can be recovered by hand", run, loc, KeptName(env, loc.Database))}
	if serving {
		e.Hint = fmt.Sprintf("nothing was changed. Keep the new version serving (fleetplan resume %s continues the run), "+
			"or move its writes to the old version first; `fleetplan rollback %s --discard-writes-since-switch` switches back anyway "+
			"and keeps %s as %s (renamed, never dropped) so the rows can be recovered by hand",
			run, run, loc, KeptName(env, loc.Database))
	}
	return e
}

// Plural is "1 table", "2 tables".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
