// Package stepspec names every built-in action and describes its inputs as
// a typed struct: the one place where an action's registry name and its
// `with:` keys are spelt. The planner builds steps from these structs
// (With turns one into the step's input map) and the actions read their
// inputs into the same structs (steps.Parse), so the two cannot drift
// apart; code that must read an input map by key names the field with KeyOf
// instead of spelling the key. Templates keep writing `uses: <action>` and `with:`; the keys
// there are the json/yaml tags here.
//
// The package is plain data: it imports nothing beyond the standard
// library.
//
// Struct tags: `json`/`yaml` give the input's key (omitempty leaves a zero
// value out of the step); `input:"required"` marks an input a step must
// set; `input:"default=VALUE"` gives the value an absent input takes, as
// it would be written in `with:`. An embedded struct's inputs sit at the
// top level (Location adds server and database).
package stepspec
