package steps

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepspec"
)

// Parse reads a step's inputs into the action's typed spec, with the
// conversions Args makes (a number where text is wanted, "true" for a
// bool, "45s" or a number of seconds for a duration), the spec's defaults
// and required inputs. Fields are read in declaration order and the first
// problem is kept: the returned Args reports it, and takes the action's
// own checks after it (Fail), so an action checks Err once. The spec holds
// what could be read even when Err is set, which is what Refs and
// Estimate use.
func Parse[T stepspec.Spec](in Inputs) (T, *Args) {
	var spec T
	a := ArgsOf(spec.Action(), in)
	decodeStruct(a, reflect.ValueOf(&spec).Elem())
	return spec, a
}

// ParseSpec is Parse for an action with no checks of its own.
func ParseSpec[T stepspec.Spec](in Inputs) (T, error) {
	spec, a := Parse[T](in)
	return spec, a.Err()
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	stringsType   = reflect.TypeFor[[]string]()
	stringMapType = reflect.TypeFor[map[string]string]()
)

func decodeStruct(a *Args, v reflect.Value) {
	for _, f := range stepspec.Fields(v.Type()) {
		decodeField(a, f, v.FieldByIndex(f.Index))
	}
}

func decodeField(a *Args, f stepspec.Field, dst reflect.Value) {
	key := f.Key
	// def reads the field's default the way the input itself is read.
	def := func(read func(*Args) any) any {
		if !f.HasDefault {
			return nil
		}
		return read(ArgsOf(a.action, Inputs{key: f.Default}))
	}
	switch t := f.Type; {
	case t == durationType:
		d, _ := def(func(x *Args) any { return x.Duration(key, 0) }).(time.Duration)
		dst.SetInt(int64(a.Duration(key, d)))
	case t == stringsType:
		dst.Set(reflect.ValueOf(a.Strings(key)))
	case t == stringMapType:
		dst.Set(reflect.ValueOf(a.StringMap(key)))
	case t.Kind() == reflect.String:
		switch {
		case f.Required:
			dst.SetString(a.String(key))
		default:
			dst.SetString(a.OptString(key, f.Default))
		}
	case t.Kind() == reflect.Bool:
		b, _ := def(func(x *Args) any { return x.Bool(key, false) }).(bool)
		dst.SetBool(a.Bool(key, b))
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool:
		if a.Has(key) {
			b := a.Bool(key, false)
			dst.Set(reflect.ValueOf(&b))
		}
	case t.Kind() == reflect.Int:
		n, _ := def(func(x *Args) any { return x.Int(key, 0) }).(int)
		dst.SetInt(int64(a.Int(key, n)))
	case t.Kind() == reflect.Interface:
		if v := a.Value(key); v != nil {
			dst.Set(reflect.ValueOf(v))
		} else if f.Required {
			a.fail("input %q is missing", key)
		}
	case t.Kind() == reflect.Struct:
		m, ok := a.Value(key).(map[string]any)
		if !ok {
			if f.Required || a.Value(key) != nil {
				a.fail("input %q: want {%s}", key, strings.Join(keysOf(t), ", "))
			}
			return
		}
		sub := ArgsOf(key, m)
		decodeStruct(sub, dst)
		if sub.Err() != nil {
			a.fail("input %q: %v", key, sub.Err())
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		decodeList(a, key, dst)
	default:
		panic(fmt.Sprintf("steps: %s: cannot read input %q into a %s", a.action, key, t))
	}
}

// decodeList reads a list of records ({table, key} entries): every entry
// needs its required keys.
func decodeList(a *Args, key string, dst reflect.Value) {
	list, ok := a.Value(key).([]any)
	if !ok {
		if a.Value(key) != nil {
			a.fail("input %q: want a list of {%s}", key, strings.Join(keysOf(dst.Type().Elem()), ", "))
		}
		return
	}
	var required []string
	for _, f := range stepspec.Fields(dst.Type().Elem()) {
		if f.Required {
			required = append(required, f.Key)
		}
	}
	out := reflect.MakeSlice(dst.Type(), 0, len(list))
	for _, item := range list {
		m, _ := item.(map[string]any)
		sub := ArgsOf(key, m)
		elem := reflect.New(dst.Type().Elem()).Elem()
		decodeStruct(sub, elem)
		if sub.Err() != nil {
			a.fail("input %s: every entry needs %s", key, strings.Join(required, " and "))
			continue
		}
		out = reflect.Append(out, elem)
	}
	dst.Set(out)
}

func keysOf(t reflect.Type) []string {
	fs := stepspec.Fields(t)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Key
	}
	return out
}

// Literal reports whether every value is known text: not empty and not
// "${{ }}" left for the runner to resolve. Refs names an object only when
// its inputs are literal.
func Literal(values ...string) bool {
	for _, v := range values {
		if v == "" || strings.Contains(v, "${{") {
			return false
		}
	}
	return true
}

// LocationOf is a spec's server and database as a fleet location.
func LocationOf(l stepspec.Location) fleet.Location { return fleet.Location(l) }
