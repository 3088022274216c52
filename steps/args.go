package steps

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// Args reads typed values out of a step's inputs. The first problem is kept
// and Err returns it as a *fleet.Error wrapping fleet.ErrInvalidArgument, so
// an action checks once after reading everything it needs.
type Args struct {
	action string
	in     Inputs
	err    error
}

// ArgsOf starts reading the inputs of a step of the named action.
func ArgsOf(action string, in Inputs) *Args { return &Args{action: action, in: in} }

func (a *Args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = &fleet.Error{Op: a.action, Err: fmt.Errorf("%w: "+format, append([]any{fleet.ErrInvalidArgument}, v...)...),
			Hint: "check the step's with: (or the template parameters that fill it)"}
	}
}

// Fail records a problem with the inputs (the first one is kept).
func (a *Args) Fail(format string, v ...any) { a.fail(format, v...) }

// Value returns an input as it is, for readers of action-specific shapes.
func (a *Args) Value(name string) any { return a.in[name] }

// Err returns the first problem found, or nil.
func (a *Args) Err() error { return a.err }

// Has reports whether the input is set to something other than null or "".
func (a *Args) Has(name string) bool {
	v, ok := a.in[name]
	if !ok || v == nil {
		return false
	}
	s, isStr := v.(string)
	return !isStr || s != ""
}

// String reads a required, non-empty string.
func (a *Args) String(name string) string {
	if !a.Has(name) {
		a.fail("input %q is missing", name)
		return ""
	}
	switch v := a.in[name].(type) {
	case string:
		return v
	case int, int64, float64, bool:
		return fmt.Sprint(v) // a version written as 2, say
	default:
		a.fail("input %q: want a string, got %T", name, v)
		return ""
	}
}

// OptString reads an optional string.
func (a *Args) OptString(name, def string) string {
	if !a.Has(name) {
		return def
	}
	return a.String(name)
}

// Bool reads an optional boolean (true/false, or the strings "true"/"false").
func (a *Args) Bool(name string, def bool) bool {
	switch v := a.in[name].(type) {
	case nil:
		return def
	case bool:
		return v
	case string:
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			a.fail("input %q: want true or false, got %q", name, v)
		}
		return b
	default:
		a.fail("input %q: want true or false, got %T", name, v)
		return def
	}
}

// Int reads an optional integer.
func (a *Args) Int(name string, def int) int {
	switch v := a.in[name].(type) {
	case nil:
		return def
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		if v != float64(int(v)) {
			a.fail("input %q: want a whole number, got %v", name, v)
		}
		return int(v)
	case string:
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			a.fail("input %q: want a whole number, got %q", name, v)
		}
		return n
	default:
		a.fail("input %q: want a whole number, got %T", name, v)
		return def
	}
}

// Duration reads an optional duration: "45s", "2h", or a number of seconds.
func (a *Args) Duration(name string, def time.Duration) time.Duration {
	switch v := a.in[name].(type) {
	case nil:
		return def
	case string:
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			a.fail("input %q: want a duration like 45s or 2h, got %q", name, v)
		}
		return d
	case int:
		return time.Duration(v) * time.Second
	case int64:
		return time.Duration(v) * time.Second
	case float64:
		return time.Duration(v * float64(time.Second))
	default:
		a.fail("input %q: want a duration, got %T", name, v)
		return def
	}
}

// Location reads a required server and database pair.
func (a *Args) Location(serverKey, databaseKey string) fleet.Location {
	return fleet.Location{Server: a.String(serverKey), Database: a.String(databaseKey)}
}

// Strings reads an optional list of strings (a single string is a list of one).
func (a *Args) Strings(name string) []string {
	switch v := a.in[name].(type) {
	case nil:
		return nil
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				a.fail("input %q[%d]: want a string, got %T", name, i, e)
				return nil
			}
			out = append(out, s)
		}
		return out
	default:
		a.fail("input %q: want a list of strings, got %T", name, v)
		return nil
	}
}

// StringMap reads an optional map of strings (numbers and booleans are
// written as text), sorted keys available through SortedKeys.
func (a *Args) StringMap(name string) map[string]string {
	switch v := a.in[name].(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, e := range v {
			switch x := e.(type) {
			case string:
				out[k] = x
			case int, int64, float64, bool:
				out[k] = fmt.Sprint(x)
			default:
				a.fail("input %q.%s: want a string, got %T", name, k, e)
				return nil
			}
		}
		return out
	case map[string]string:
		return v
	default:
		a.fail("input %q: want a map of strings, got %T", name, v)
		return nil
	}
}

// SortedKeys returns the keys of m in order.
func SortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// OneOf checks that a string input is one of the allowed values.
func (a *Args) OneOf(name, v string, allowed ...string) string {
	for _, x := range allowed {
		if strings.EqualFold(v, x) {
			return x
		}
	}
	a.fail("input %q: %q is not one of %s", name, v, strings.Join(allowed, ", "))
	return v
}

// Prepare reads a control-plane action's inputs with parse and finds the
// target's control plane: the opening of most Observe, Apply and Rollback
// methods.
func Prepare[T any](env *Env, in Inputs, parse func(Inputs) (T, error)) (T, fleet.ControlPlane, error) {
	v, err := parse(in)
	if err != nil {
		return v, nil, err
	}
	cp, err := ControlPlaneOf(env)
	return v, cp, err
}

// ControlPlaneOf returns the target's control plane, or an error saying the
// driver has none.
func ControlPlaneOf(env *Env) (fleet.ControlPlane, error) {
	cp, ok := env.Target.(fleet.ControlPlane)
	if !ok {
		return nil, &fleet.Error{Op: "open control plane", Target: env.Target.Name(),
			Err: fmt.Errorf("the %s driver has no control plane (geo-replication, traffic manager, app slots)", env.Target.Driver())}
	}
	return cp, nil
}

// Sleep waits d or until ctx is done (fleet.Sleep).
func Sleep(ctx context.Context, d time.Duration) error { return fleet.Sleep(ctx, d) }
