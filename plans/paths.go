package plans

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/schema"
)

// rootsOf returns the folders a document may name files in: those of its
// fleetplan.yaml, or, without one, the plan file's own folder.
func rootsOf(doc *Document) confine.Roots {
	if doc.Config != nil {
		return doc.Config.Roots()
	}
	return confine.New(filepath.Dir(absPath(doc.File)))
}

// rootsFor returns the folders a file found by the loader may name files
// in: those of the fleetplan.yaml that applies to it, or its own folder.
func (l *loader) rootsFor(file string) confine.Roots {
	if cfg, _ := l.configFor(file); cfg != nil {
		return cfg.Roots()
	}
	return confine.New(filepath.Dir(absPath(file)))
}

// reportOutside gives a diagnostic about a path the hint that fits its error.
func reportOutside(d *diag.Diagnostic, err error) {
	var outside *confine.Error
	if errors.As(err, &outside) {
		d.WithHint("%s", outside.Hint())
		return
	}
	d.WithHint("paths are relative to the file that names them; check that the file exists")
}

// confinedFile resolves the path in field k of o (relative to the plan
// file's folder) inside roots and checks the file exists. It reports the
// problem at the field and returns "" then; what names the field in messages.
func confinedFile(o obj, k, what string, roots confine.Roots) string {
	name := o.str(k)
	if name == "" {
		return ""
	}
	p, err := roots.Resolve(filepath.Dir(absPath(o.d.file)), name)
	if err != nil {
		reportOutside(o.errorf(k, "%s %v", what, err), err)
		return ""
	}
	if err := confine.Regular(p); err != nil {
		notReadable(o, k, what, name, err, k+" is relative to the plan's folder")
		return ""
	}
	return p
}

// notReadable reports at field k of o that the file name (what it is)
// cannot be read, err being from confine.Regular: not found (with
// notFoundHint), or a folder, a pipe or a device, which is never read.
func notReadable(o obj, k, what, name string, err error, notFoundHint string) {
	if errors.Is(err, confine.ErrNotRegular) {
		o.errorf(k, "%s %q is not a regular file", what, name).WithHint("%s: names a file; a folder, a pipe or a device is never read", k)
		return
	}
	o.errorf(k, "%s %q not found", what, name).WithHint("%s", notFoundHint)
}

// paramRef matches an input that is exactly one parameter: ${{ params.a.b }}.
var paramRef = regexp.MustCompile(`^\$\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}$`)

// checkPathInputs reports every path input of a step (o, inputs resolved as
// far as the plan allows) that leads outside the document's repository.
// Inputs still holding ${{ }} are checked when the step runs.
func (l *loader) checkPathInputs(doc *Document, action string, o obj, with map[string]any, caller *obj) {
	if doc == nil {
		return
	}
	l.checkSecretFiles(doc, o, o.child("with"), with)
	if l.opts.PathInputs == nil || action == "" {
		return
	}
	for _, k := range l.opts.PathInputs(action) {
		v, ok := with[k].(string)
		if !ok || v == "" || expression.HasInterpolation(v) {
			continue
		}
		_, err := rootsOf(doc).Resolve(filepath.Dir(absPath(doc.File)), v)
		if err == nil {
			if !filepath.IsAbs(v) {
				v = filepath.Join(filepath.Dir(absPath(doc.File)), v)
			}
			doc.addRead(v)
			continue
		}
		pos := o.d.pos(o.child("with") + "/" + schema.Escape(k))
		what := action + " input " + k
		if written, _ := o.obj("with").m[k].(string); caller != nil && caller.has("with") {
			if m := paramRef.FindStringSubmatch(written); m != nil {
				ptr := caller.child("with")
				for _, part := range strings.Split(m[1], ".") {
					ptr += "/" + schema.Escape(part)
				}
				if caller.d.has(ptr) {
					pos, what = caller.d.pos(ptr), schema.Path(ptr)
				}
			}
		}
		reportOutside(l.diags.Errorf(pos, "%s: %v", what, err), err)
	}
}

// checkSecretFiles reports every file: secret reference in a step's inputs
// (like env: {DB_PASSWORD: file:./pw.txt}) that leads outside the
// document's repository. A file that does not exist yet is reported when the
// step runs.
func (l *loader) checkSecretFiles(doc *Document, o obj, ptr string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, val := range m {
		child := ptr + "/" + schema.Escape(k)
		s, isStr := val.(string)
		if !isStr {
			l.checkSecretFiles(doc, o, child, val)
			continue
		}
		ref, isRef := parseSecretRef(s)
		if !isRef || ref.Kind != SecretFile {
			continue
		}
		if _, err := rootsOf(doc).Resolve(filepath.Dir(absPath(doc.File)), ref.Ref); err != nil {
			reportOutside(l.diags.Errorf(o.d.pos(child), "secret file:%s: %v", ref.Ref, err), err)
		}
	}
}

// addRead records a file the document reads (see Document.Reads); builtin
// templates are part of fleetplan, not of the repository, and are left out.
func (d *Document) addRead(path string) {
	if strings.HasPrefix(path, BuiltinPrefix) || path == "" {
		return
	}
	path = absPath(path)
	if !containsString(d.Reads, path) {
		d.Reads = append(d.Reads, path)
	}
}
