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
func With(s Spec) map[string]any { return (*Encoder)(nil).With(s) }

// An Encoder is With for the many steps of one graph: a nested struct or
// list input that encodes the same as one encoded before (the location of
// a shard, the tables of a shard map) is encoded once, and the input maps
// that hold it share that encoding. Readers of a step's inputs only read
// them (the runner, the renderers and planfile do), so sharing is
// invisible to them; a caller that changes a nested input in place must
// use With instead. A nil *Encoder shares nothing. An Encoder is not safe
// for concurrent use.
type Encoder struct {
	byValue map[any]any          // plain nested value (see plainType) -> its encoding
	last    map[reflect.Type]any // other nested struct or list type -> its latest encoding
}

// NewEncoder returns an Encoder that shares nested inputs.
func NewEncoder() *Encoder {
	return &Encoder{byValue: map[any]any{}, last: map[reflect.Type]any{}}
}

// With turns a spec into a step's input map as the function With does.
func (e *Encoder) With(s Spec) map[string]any {
	v := reflect.ValueOf(s)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return e.encodeStruct(v)
}

func (e *Encoder) encodeStruct(v reflect.Value) map[string]any {
	fields := Fields(v.Type())
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		fv := v.FieldByIndex(f.Index)
		if f.OmitEmpty && fv.IsZero() {
			continue
		}
		out[f.Key] = e.encodeValue(fv)
	}
	return out
}

var durationType = reflect.TypeFor[time.Duration]()

func (e *Encoder) encodeValue(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return e.encodeValue(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return v.Elem().Interface()
	case reflect.Struct:
		return e.encodeNested(v)
	case reflect.Slice:
		if e != nil {
			if enc, ok := e.last[v.Type()]; ok && encodes(v, enc) {
				return enc
			}
		}
		list := make([]any, 0, v.Len())
		for i := range v.Len() {
			list = append(list, e.encodeValue(v.Index(i)))
		}
		if e != nil {
			e.last[v.Type()] = list
		}
		return list
	case reflect.Map:
		m := make(map[string]any, v.Len())
		for _, k := range v.MapKeys() {
			m[k.String()] = e.encodeValue(v.MapIndex(k))
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

// encodeNested encodes a struct inside a spec, sharing an earlier encoding
// of the same value when there is one.
func (e *Encoder) encodeNested(v reflect.Value) any {
	if e == nil {
		return e.encodeStruct(v)
	}
	if plainType(v.Type()) {
		key := v.Interface()
		if enc, ok := e.byValue[key]; ok {
			return enc
		}
		enc := e.encodeStruct(v)
		e.byValue[key] = enc
		return enc
	}
	if enc, ok := e.last[v.Type()]; ok && encodes(v, enc) {
		return enc
	}
	enc := e.encodeStruct(v)
	e.last[v.Type()] = enc
	return enc
}

var plainTypes sync.Map // reflect.Type -> bool

// plainType reports whether values of struct type t are made of strings,
// bools, ints and structs of them only, so == on them is == on what they
// encode to.
func plainType(t reflect.Type) bool {
	if p, ok := plainTypes.Load(t); ok {
		return p.(bool)
	}
	p := true
	for i := 0; p && i < t.NumField(); i++ {
		switch ft := t.Field(i).Type; ft.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Int32:
			p = ft != durationType
		case reflect.Struct:
			p = plainType(ft)
		default:
			p = false
		}
	}
	plainTypes.Store(t, p)
	return p
}

// encodes reports whether v encodes to exactly enc, an earlier encoding of
// a value of v's type; it allocates nothing but for durations.
func encodes(v reflect.Value, enc any) bool {
	if v.Type() == durationType {
		s, ok := enc.(string)
		return ok && s == time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return enc == nil
		}
		return encodes(v.Elem(), enc)
	case reflect.Struct:
		m, ok := enc.(map[string]any)
		if !ok {
			return false
		}
		n := 0
		for _, f := range Fields(v.Type()) {
			fv := v.FieldByIndex(f.Index)
			if f.OmitEmpty && fv.IsZero() {
				continue
			}
			if x, ok := m[f.Key]; !ok || !encodes(fv, x) {
				return false
			}
			n++
		}
		return n == len(m)
	case reflect.Slice:
		list, ok := enc.([]any)
		if !ok || len(list) != v.Len() {
			return false
		}
		for i := range list {
			if !encodes(v.Index(i), list[i]) {
				return false
			}
		}
		return true
	case reflect.String:
		s, ok := enc.(string)
		return ok && s == v.String()
	case reflect.Bool:
		b, ok := enc.(bool)
		return ok && b == v.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := enc.(int)
		return ok && n == int(v.Int())
	}
	return false // interfaces and maps: encoded afresh each time
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
