package plans

import (
	"fmt"
	"sort"
	"sync"

	"github.com/fleetplan/fleetplan/diag"
)

// KindDef is the document side of one plan kind: its name, its place in the
// lists that name every kind, and the decoder that builds its typed spec.
// Each kind registers its KindDef from its own file with RegisterKind, so a
// new kind adds a file here and edits none (its schema is
// schema/kinds/<kind>.json; its planning is a planner.Kind).
type KindDef struct {
	// Name is the kind, as `kind:` spells it; it is the `kind` const of the
	// kind's schema.
	Name string
	// Order places the kind in the lists of kinds (hints, `plan`'s list of
	// what it takes): lower first, ties by name. The kinds fleetplan ships
	// use 10, 20, ... and Template 1000.
	Order int
	// Decode builds the typed spec stored in Document.Spec (a pointer to
	// the kind's spec struct). It runs after the kind is known, beside the
	// schema check; problems it finds are reported through d and make the
	// document fail.
	Decode func(d *SpecDecoder) any
}

var (
	kindsMu  sync.RWMutex
	kindDefs = map[string]KindDef{}
)

// RegisterKind adds a kind to the table; it panics on a second kind of the
// same name or a kind without a decoder.
func RegisterKind(k KindDef) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if k.Name == "" || k.Decode == nil {
		panic(fmt.Sprintf("plans: kind %q registered without a name or a decoder", k.Name))
	}
	if _, dup := kindDefs[k.Name]; dup {
		panic(fmt.Sprintf("plans: kind %s registered twice", k.Name))
	}
	kindDefs[k.Name] = k
}

// Kinds lists the registered plan kinds in documentation order (KindDef.Order).
func Kinds() []string {
	kindsMu.RLock()
	defs := make([]KindDef, 0, len(kindDefs))
	for _, k := range kindDefs {
		defs = append(defs, k)
	}
	kindsMu.RUnlock()
	sort.Slice(defs, func(i, j int) bool {
		if defs[i].Order != defs[j].Order {
			return defs[i].Order < defs[j].Order
		}
		return defs[i].Name < defs[j].Name
	})
	out := make([]string, len(defs))
	for i, k := range defs {
		out[i] = k.Name
	}
	return out
}

func kindNamed(name string) (KindDef, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kindDefs[name]
	return k, ok
}

// SpecDecoder is what a kind's decoder reads: the document being built and
// its spec mapping. Its readers return zero values for fields that are
// absent or of another type; the schema check reports those.
type SpecDecoder struct {
	l          *loader
	doc        *Document
	root, spec obj
}

// Document is the document being decoded (kind, metadata and file are set).
func (d *SpecDecoder) Document() *Document { return d.doc }

// Target reads spec.target, checks that the document's fleetplan.yaml has
// that target, and sets Document.Target and Document.Config. Every kind
// that runs against a fleet calls it.
func (d *SpecDecoder) Target() string { return d.l.target(d.doc, d.spec) }

// String is the string at spec.<field>.
func (d *SpecDecoder) String(field string) string { return d.spec.str(field) }

// Int is the integer at spec.<field>, or def when it is not written.
func (d *SpecDecoder) Int(field string, def int) int { return d.spec.integer(field, def) }

// Bool is the boolean at spec.<field>.
func (d *SpecDecoder) Bool(field string) bool { return d.spec.boolean(field) }

// Pos is where the value of spec.<field> is written (the spec's position
// when it is not).
func (d *SpecDecoder) Pos(field string) diag.Pos { return d.spec.pos(field) }

// Errorf reports a problem with the document at pos; give it a hint with
// WithHint. The document then fails to load.
func (d *SpecDecoder) Errorf(pos diag.Pos, format string, args ...any) *diag.Diagnostic {
	return d.l.diags.Errorf(pos, format, args...)
}
