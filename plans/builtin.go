package plans

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// BuiltinInfo describes a built-in template for listings.
type BuiltinInfo struct {
	Name string `json:"name"`
	// Description is the template file's leading comment.
	Description string      `json:"description"`
	Parameters  []Parameter `json:"parameters"`
	Steps       []string    `json:"steps"` // step ids, in file order
	Source      string      `json:"-"`     // the file as shipped
}

// Parameter is one template parameter, in the order the file declares it.
type Parameter struct {
	Name        string      `json:"name"`
	Type        string      `json:"type,omitempty"`
	Required    bool        `json:"required,omitempty"`
	Default     any         `json:"default,omitempty"`
	Description string      `json:"description,omitempty"`
	Properties  []Parameter `json:"properties,omitempty"`
}

// Builtin describes one built-in template; the error names the known ones.
func Builtin(name string) (*BuiltinInfo, error) {
	data, err := builtinFS.ReadFile("templates/" + name + ".yaml")
	if err != nil || name == "" || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("no builtin template %q (builtin templates: %s)", name, strings.Join(BuiltinTemplates(), ", "))
	}
	info := &BuiltinInfo{Name: name, Source: string(data)}
	var desc []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		desc = append(desc, strings.TrimSpace(strings.TrimPrefix(line, "#")))
	}
	info.Description = strings.TrimSpace(strings.Join(desc, "\n"))
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil, fmt.Errorf("builtin template %s: %v", name, err)
	}
	body := mapValue(root.Content[0], "spec")
	if body == nil {
		body = root.Content[0]
	}
	if p := mapValue(body, "parameters"); p != nil {
		info.Parameters = parametersOf(p)
	}
	if s := mapValue(body, "steps"); s != nil {
		for _, st := range s.Content {
			if id := mapValue(st, "id"); id != nil {
				info.Steps = append(info.Steps, id.Value)
			}
		}
	}
	return info, nil
}

// mapValue returns the value of key k in a mapping node, or nil.
func mapValue(n *yaml.Node, k string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i+1]
		}
	}
	return nil
}

// parametersOf lists the properties of an object schema, in file order.
func parametersOf(schema *yaml.Node) []Parameter {
	props := mapValue(schema, "properties")
	if props == nil || props.Kind != yaml.MappingNode {
		return nil
	}
	required := map[string]bool{}
	if r := mapValue(schema, "required"); r != nil {
		for _, n := range r.Content {
			required[n.Value] = true
		}
	}
	var out []Parameter
	for i := 0; i+1 < len(props.Content); i += 2 {
		name, def := props.Content[i].Value, props.Content[i+1]
		p := Parameter{Name: name, Required: required[name]}
		if t := mapValue(def, "type"); t != nil {
			if t.Kind == yaml.SequenceNode {
				var ts []string
				for _, n := range t.Content {
					ts = append(ts, n.Value)
				}
				sort.Strings(ts)
				p.Type = strings.Join(ts, " or ")
			} else {
				p.Type = t.Value
			}
		}
		if d := mapValue(def, "description"); d != nil {
			p.Description = d.Value
		}
		if d := mapValue(def, "default"); d != nil {
			var v any
			if d.Decode(&v) == nil {
				p.Default = v
			}
		}
		p.Properties = parametersOf(def)
		out = append(out, p)
	}
	return out
}
