package plans

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/schema"
)

// LoadConfig reads and validates one fleetplan.yaml.
func LoadConfig(path string) (*Config, diag.List) {
	l := newLoader(Options{})
	cfg := l.config(absPath(path), path)
	return cfg, l.diags.Sort()
}

// FindConfig returns the fleetplan.yaml that applies to a plan in dir: the
// one in dir or in the nearest parent. ok is false when there is none.
func FindConfig(dir string) (path string, ok bool) {
	dir = absPath(dir)
	for {
		for _, name := range ConfigFileNames {
			p := filepath.Join(dir, name)
			if fileExists(p) {
				return p, true
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// explicitConfig loads Options.ConfigPath.
func (l *loader) explicitConfig() *Config {
	return l.config(absPath(l.opts.ConfigPath), l.opts.ConfigPath)
}

// configFor returns the config that applies to a plan file. found is false
// when there is none; cfg is nil when it exists but is unusable.
func (l *loader) configFor(file string) (cfg *Config, found bool) {
	if l.opts.ConfigPath != "" {
		return l.explicitConfig(), true
	}
	dir := filepath.Dir(absPath(file))
	path, cached := l.configDir[dir]
	if !cached {
		path, _ = FindConfig(dir)
		l.configDir[dir] = path
	}
	if path == "" {
		return nil, false
	}
	return l.config(path, l.displayPath(path)), true
}

// config reads one fleetplan.yaml, once.
func (l *loader) config(abs, display string) *Config {
	if cfg, ok := l.configs[abs]; ok {
		return cfg
	}
	l.configs[abs] = nil
	data, d := readFile(display)
	if d != nil {
		l.diags.Add(*d)
		return nil
	}
	before := len(l.diags)
	raws := decodeYAML(display, data, &l.diags)
	switch {
	case len(raws) == 0 && len(l.diags) > before:
		return nil // unreadable YAML, already reported
	case len(raws) == 0:
		l.diags.Errorf(diag.Pos{File: display, Line: 1, Col: 1}, "fleetplan.yaml is empty").
			WithHint("write targets: {NAME: {driver: local, path: DIR}}")
		return nil
	case len(raws) > 1:
		l.diags.Errorf(raws[1].pos(""), "fleetplan.yaml must hold one document").WithHint("put every target under the one targets: mapping; remove the --- and what follows")
	}
	raw := raws[0]
	m, ok := raw.value.(map[string]any)
	if !ok {
		l.diags.Errorf(raw.pos(""), "fleetplan.yaml must be a mapping with targets:").WithHint("write targets: {NAME: {driver: local, path: DIR}}")
		return nil
	}
	sch, _ := schema.ForKind(schema.ConfigKind)
	l.diags.Add(sch.Validate(raw.value, raw.locator(""), "")...)
	cfg := &Config{Path: abs, Dir: filepath.Dir(abs), Targets: map[string]TargetSpec{}}
	root := obj{d: raw, m: m, diags: &l.diags}
	cfg.readAllowPaths(root)
	roots := cfg.Roots()
	if k := root.str("planSigningKey"); k != "" {
		if ref, ok := parseSecretRef(k); ok {
			cfg.PlanSigningKey = &SecretRef{Kind: ref.Kind, Ref: ref.Ref}
			cfg.PlanSigningKeyPos = root.pos("planSigningKey")
			checkSecretFile(root, "planSigningKey", ref, roots, cfg.Dir)
		}
	}
	targets := root.obj("targets")
	for name := range targets.m {
		t := targets.obj(name)
		if t.m == nil {
			continue
		}
		spec := TargetSpec{
			Name: name, Driver: t.str("driver"), Server: t.str("server"), Database: t.str("database"),
			Port: t.integer("port", 0), Pos: t.selfKeyPos(),
		}
		if p := t.str("path"); p != "" {
			spec.Path = cfg.resolve(p)
			spec.PathPos = t.pos("path")
		}
		spec.Auth, spec.AuthPos = readAuth(t.obj("auth"), roots, cfg.Dir)
		spec.RecoveryAuth, spec.RecoveryAuthPos = readAuth(t.obj("recoveryAuth"), roots, cfg.Dir)
		opts, _ := t.m["options"].(map[string]any)
		for _, k := range []string{"subscription", "resourceGroup"} {
			if s := t.str(k); s != "" {
				if opts == nil {
					opts = map[string]any{}
				}
				opts[k] = s
			}
		}
		spec.Options = opts
		cfg.Targets[name] = spec
	}
	l.configs[abs] = cfg
	return cfg
}

// readAuth reads a target's auth: or recoveryAuth: entries (nil when
// there are none) and where each is written.
func readAuth(auth obj, roots confine.Roots, base string) (map[string]SecretRef, map[string]diag.Pos) {
	var refs map[string]SecretRef
	var pos map[string]diag.Pos
	for k, v := range auth.m {
		s, ok := v.(string)
		if !ok {
			continue
		}
		ref, isRef := parseSecretRef(s)
		if !isRef {
			ref = SecretRef{Kind: SecretValue, Ref: s}
		}
		checkSecretFile(auth, k, ref, roots, base)
		if refs == nil {
			refs, pos = map[string]SecretRef{}, map[string]diag.Pos{}
		}
		refs[k] = ref
		pos[k] = auth.pos(k)
	}
	return refs, pos
}

// resolve makes a path from the config absolute, relative to its folder.
func (c *Config) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.Dir, p)
}

// readAllowPaths reads allowPaths: the folders besides the repository that plans
// may name files in. Each must exist; they are resolved like every path.
func (c *Config) readAllowPaths(root obj) {
	for i, p := range root.strings("allowPaths") {
		abs := c.resolve(p)
		st, err := os.Stat(abs)
		if err != nil || !st.IsDir() {
			root.diags.Errorf(root.d.pos(root.child("allowPaths")+"/"+strconv.Itoa(i)), "allowPaths: %q is not a folder", p).
				WithHint("list folders that exist, relative to fleetplan.yaml or absolute")
			continue
		}
		c.AllowPaths = append(c.AllowPaths, abs)
	}
}

// Roots are the folders plans under this config may name files in: the
// folder of fleetplan.yaml and every allowPaths entry.
func (c *Config) Roots() confine.Roots {
	if c == nil {
		return confine.Roots{}
	}
	return confine.New(append([]string{c.Dir}, c.AllowPaths...)...)
}

// checkSecretFile reports a file: reference (field k of o) that leads outside
// roots. A file that does not exist is reported when the secret is needed.
func checkSecretFile(o obj, k string, ref SecretRef, roots confine.Roots, base string) {
	if ref.Kind != SecretFile {
		return
	}
	if _, err := roots.Resolve(base, ref.Ref); err != nil {
		reportOutside(o.errorf(k, "secret file:%s: %v", ref.Ref, err), err)
	}
}
