package stepspec

import (
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// Spec is the typed inputs of one action.
type Spec interface {
	// Action is the registry name of the action the inputs are for.
	Action() string
}

// Location is a database: the server and database inputs most actions take.
type Location struct {
	Server   string `json:"server" yaml:"server" input:"required"`
	Database string `json:"database" yaml:"database" input:"required"`
}

var (
	declaredMu sync.Mutex
	declared   = map[string]Spec{}
)

// declare lists specs so Specs can name every action this package
// describes. Each file declares its own.
func declare(specs ...Spec) bool {
	declaredMu.Lock()
	defer declaredMu.Unlock()
	for _, s := range specs {
		if _, dup := declared[s.Action()]; dup {
			panic("stepspec: action declared twice: " + s.Action())
		}
		declared[s.Action()] = s
	}
	return true
}

// Specs returns the zero value of every spec, sorted by action name.
func Specs() []Spec {
	declaredMu.Lock()
	defer declaredMu.Unlock()
	out := make([]Spec, 0, len(declared))
	for _, s := range declared {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action() < out[j].Action() })
	return out
}

// Names returns every action name this package describes, sorted.
func Names() []string {
	specs := Specs()
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Action()
	}
	return out
}

// With turns a spec into a step's input map, in the form a plan saves it:
// strings, bools and ints as they are, a duration as text ("45s"), lists as
// []any, nested structs and string maps as map[string]any. A field tagged
// omitempty is left out while it holds its zero value.
func With(s Spec) map[string]any {
	v := reflect.ValueOf(s)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	out := map[string]any{}
	encodeStruct(v, out)
	return out
}

func encodeStruct(v reflect.Value, out map[string]any) {
	for _, f := range Fields(v.Type()) {
		fv := v.FieldByIndex(f.Index)
		if f.OmitEmpty && fv.IsZero() {
			continue
		}
		out[f.Key] = encodeValue(fv)
	}
}

var durationType = reflect.TypeFor[time.Duration]()

func encodeValue(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return encodeValue(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return v.Elem().Interface()
	case reflect.Struct:
		m := map[string]any{}
		encodeStruct(v, m)
		return m
	case reflect.Slice:
		list := make([]any, 0, v.Len())
		for i := range v.Len() {
			list = append(list, encodeValue(v.Index(i)))
		}
		return list
	case reflect.Map:
		m := make(map[string]any, v.Len())
		for _, k := range v.MapKeys() {
			m[k.String()] = encodeValue(v.MapIndex(k))
		}
		return m
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return int(v.Int())
	}
	panic("stepspec: cannot write a " + v.Type().String() + " input")
}

// Field is one input of a spec, as its struct tags describe it.
type Field struct {
	Key       string // the `with:` key
	Index     []int  // the field's index path (through embedded structs)
	Type      reflect.Type
	OmitEmpty bool
	Required  bool
	// Default is the value an absent input takes, as written in `with:`;
	// HasDefault tells a default of "" from none.
	Default    string
	HasDefault bool
}

var fieldCache sync.Map // reflect.Type -> []Field

// Fields lists the inputs of a spec struct type in declaration order, with
// the fields of embedded structs in their place.
func Fields(t reflect.Type) []Field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]Field)
	}
	var out []Field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, hasTag := sf.Tag.Lookup("json")
		if sf.Anonymous && !hasTag && sf.Type.Kind() == reflect.Struct {
			for _, f := range Fields(sf.Type) {
				f.Index = append([]int{i}, f.Index...)
				out = append(out, f)
			}
			continue
		}
		if !sf.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			panic("stepspec: field " + t.String() + "." + sf.Name + " has no json key")
		}
		f := Field{Key: name, Index: []int{i}, Type: sf.Type, OmitEmpty: hasOption(opts, "omitempty")}
		in := sf.Tag.Get("input")
		for opt := range strings.SplitSeq(in, ",") {
			switch {
			case opt == "required":
				f.Required = true
			case strings.HasPrefix(opt, "default="):
				f.Default, f.HasDefault = strings.TrimPrefix(opt, "default="), true
			}
		}
		out = append(out, f)
	}
	fieldCache.Store(t, out)
	return out
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// KeyOf returns the `with:` key of one field of a spec, given pointers to
// the spec and to that field (stepspec.KeyOf(&w, &w.Until) is "until"), so
// code that reads a step's input map by key names the field, which the
// compiler checks, rather than spelling the key. It panics when field is
// not an input of spec.
func KeyOf(spec, field any) string {
	f := FieldOf(spec, field)
	return f.Key
}

// FieldOf is the Field that field (a pointer into *spec) describes; see KeyOf.
func FieldOf(spec, field any) Field {
	v := reflect.ValueOf(spec)
	p := reflect.ValueOf(field)
	if v.Kind() != reflect.Pointer || p.Kind() != reflect.Pointer {
		panic("stepspec: KeyOf wants pointers to a spec and to one of its fields")
	}
	v = v.Elem()
	for _, f := range Fields(v.Type()) {
		fv := v.FieldByIndex(f.Index)
		if fv.Addr().Pointer() == p.Pointer() && fv.Type() == p.Type().Elem() {
			return f
		}
	}
	panic("stepspec: " + v.Type().String() + " has no input at that field")
}
