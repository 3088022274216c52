package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/secret"
)

// Inputs are a step's resolved `with:` values (JSON-compatible).
type Inputs map[string]any

// Outputs are what a step reports for later guards and steps (`steps.<id>.outputs`).
type Outputs map[string]any

// Reporter receives progress from long-running actions. Implementations must
// be safe for concurrent use.
type Reporter interface {
	// Progress reports done out of total units ("rows", "batches") for a step.
	Progress(stepID string, done, total int64, unit string)
	// Logf reports one human-readable line about a step.
	Logf(stepID string, format string, args ...any)
}

// Env is what an action runs against.
type Env struct {
	Target  fleet.Target // the opened driver for the plan's target
	RunID   string
	StepID  string
	BaseDir string // folder of the plan file, for relative paths in inputs
	// Roots are the folders inputs may name files in (the plan repository
	// and allowPaths). Empty means BaseDir alone.
	Roots    confine.Roots
	Reporter Reporter
	// Undo is set when the action runs as a compensating step (a rollback
	// branch, or the action's own Rollback).
	Undo bool
	// DiscardWritesSinceSwitch allows a compensating step to move traffic
	// away from data written since traffic switched to it; that data is
	// then kept (a database is renamed, never dropped).
	DiscardWritesSinceSwitch bool
	// IgnoreWindow lets steps start outside their change window
	// (apply --ignore-window).
	IgnoreWindow bool
	// Kept, when set, is told where a compensating step set data aside
	// instead of removing it ("database contoso-2/contoso-kept-X (file
	// ...)"), so the run's record says where to find it.
	Kept func(where string)
}

// NoteKept reports data a compensating step set aside (see Env.Kept) and
// logs it.
func (e *Env) NoteKept(where string) {
	if e.Kept != nil {
		e.Kept(where)
	}
}

// roots returns the folders inputs may name files in and the folder
// relative paths start from.
func (e *Env) roots() (confine.Roots, string) {
	roots, base := confine.Roots{}, ""
	if e != nil {
		roots, base = e.Roots, e.BaseDir
	}
	if base == "" {
		base, _ = os.Getwd()
	}
	if roots.Empty() {
		roots = confine.New(base)
	}
	return roots, base
}

// Path resolves a file or folder an input names: relative to BaseDir, with
// symlinks resolved, and only inside Roots. The error names the path as
// written, never a file's contents.
func (e *Env) Path(input, name string) (string, error) {
	roots, base := e.roots()
	p, err := roots.Resolve(base, name)
	if err != nil {
		return "", inputError(input, err)
	}
	return p, nil
}

// Secret resolves a secret reference an input holds: env:VAR, or file:PATH
// relative to BaseDir and inside Roots (see Path). The error names the
// reference, never the value.
func (e *Env) Secret(ref secret.Ref) (string, error) {
	roots, base := e.roots()
	return ref.Resolve(roots, base)
}

// ReadFile reads the file an input names (see Path).
func (e *Env) ReadFile(input, name string) ([]byte, error) {
	roots, base := e.roots()
	b, err := roots.ReadFile(base, name)
	if err != nil {
		return nil, inputError(input, err)
	}
	return b, nil
}

// inputError is the typed error for a path input that is refused or cannot
// be read.
func inputError(input string, err error) error {
	hint := input + " is relative to the folder of the plan file"
	var ce *confine.Error
	if errors.As(err, &ce) {
		hint = ce.Hint()
	}
	return &fleet.Error{Op: "input " + input, Err: fmt.Errorf("%w: %w", fleet.ErrInvalidArgument, err), Hint: hint}
}

// Logf reports through the env's reporter, if any.
func (e *Env) Logf(format string, args ...any) {
	if e.Reporter != nil {
		e.Reporter.Logf(e.StepID, format, args...)
	}
}

// Progress reports through the env's reporter, if any.
func (e *Env) Progress(done, total int64, unit string) {
	if e.Reporter != nil {
		e.Reporter.Progress(e.StepID, done, total, unit)
	}
}

// Estimate is what an action expects a step to cost.
type Estimate struct {
	Duration    time.Duration
	Unavailable time.Duration
	Rows        int64
	Basis       string
	// Hint marks an estimate the plan gave (an input), which planners prefer
	// over durations measured in earlier runs.
	Hint bool
}

// ErrCancelRequested is the cause of a step's context when `fleetplan
// cancel` asked the run to stop: an action running a long operation asks
// the service to cancel it, which it does not on other interruptions (a
// resume re-attaches to the operation instead).
var ErrCancelRequested = errors.New("cancel requested")

// ErrNoRollback is returned by Rollback when an action has no compensating effect.
var ErrNoRollback = errors.New("action has no rollback")

// Action is one kind of step.
//
// Contract:
//   - Observe must not change anything. It reports whether the step's effect is
//     already live, which lets the planner prune the step.
//   - Apply must be idempotent: after a crash at any point, calling it again
//     finishes the job without duplicating or losing anything.
//   - Rollback undoes a completed (or partly completed) Apply and is idempotent
//     too; it returns ErrNoRollback when there is nothing it can undo.
//   - Errors are *fleet.Error where the driver knows more (transient or not).
type Action interface {
	Observe(ctx context.Context, env *Env, in Inputs) (done bool, err error)
	Apply(ctx context.Context, env *Env, in Inputs) (Outputs, error)
	Rollback(ctx context.Context, env *Env, in Inputs) error
	Estimate(in Inputs) Estimate
}

var (
	mu       sync.RWMutex
	registry = map[string]Action{}
	// registeredBy is the import path of the package that registered each
	// action, so the conformance suite can tell which packages it covers.
	registeredBy = map[string]string{}
)

// Register adds an action under a name like "shardmap.move-range". It panics
// on a duplicate name: that is a programming error.
func Register(name string, a Action) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("steps: action registered twice: " + name)
	}
	registry[name] = a
	registeredBy[name] = CallerPackage(1)
}

// CallerPackage is the import path of the package of the function skip
// frames above the one calling it (0: that function's own package). An
// external test package ("x_test") counts as the package it tests.
func CallerPackage(skip int) string {
	pc, _, _, ok := runtime.Caller(skip + 1)
	if !ok {
		return ""
	}
	fn := runtime.FuncForPC(pc).Name() // "github.com/x/y/steps/database.init.0"
	slash := strings.LastIndex(fn, "/")
	if dot := strings.Index(fn[slash+1:], "."); dot >= 0 {
		fn = fn[:slash+1+dot]
	}
	return strings.TrimSuffix(fn, "_test")
}

// RegisteredBy returns the import path of the package that registered the
// named action ("" when none did).
func RegisteredBy(name string) string {
	mu.RLock()
	defer mu.RUnlock()
	return registeredBy[name]
}

// Lookup returns the action registered under name.
func Lookup(name string) (Action, error) {
	mu.RLock()
	defer mu.RUnlock()
	a, ok := registry[name]
	if !ok {
		known := strings.Join(namesLocked(), ", ")
		if known == "" {
			known = "none"
		}
		return nil, fmt.Errorf("unknown action %q (forgotten import?); registered actions: %s; "+
			"an action registers itself when its package is imported", name, known)
	}
	return a, nil
}

// Names lists registered actions, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// FileUser is an action whose inputs name files or folders. Every such
// input resolves inside the plan repository (Env.Roots), checked when the
// plan is loaded (for inputs known then) and again when the step runs.
type FileUser interface {
	FileInputs() []string
}

// FileInputs lists the path inputs of the action registered under name.
func FileInputs(name string) []string {
	mu.RLock()
	a := registry[name]
	mu.RUnlock()
	if fu, ok := a.(FileUser); ok {
		return fu.FileInputs()
	}
	return nil
}
