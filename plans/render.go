package plans

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"
)

// Render writes documents as YAML, separated by "---": each as written, except
// that uses:/with:/steps: of a plan are replaced by its expanded steps (with
// params-only interpolations resolved). Templates are written as they are.
func Render(w io.Writer, docs []*Document) error {
	for i, d := range docs {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		b, err := d.render()
		if err != nil {
			return fmt.Errorf("render %s: %w", d.File, err)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (d *Document) render() ([]byte, error) {
	raw := d.source
	if raw == nil {
		return nil, fmt.Errorf("document was not loaded from a file")
	}
	root := copyNode(raw)
	if d.Kind != KindTemplate && (d.Steps != nil || d.Params != nil) {
		if spec := mappingValue(root, "spec"); spec != nil {
			removeKeys(spec, "uses", "with", "steps")
			steps := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for _, s := range d.Steps {
				n, err := stepNode(s)
				if err != nil {
					return nil, err
				}
				steps.Content = append(steps.Content, n)
			}
			spec.Content = append(spec.Content, scalar("steps"), steps)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = copyNode(ch)
	}
	return &c
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func removeKeys(m *yaml.Node, keys ...string) {
	var kept []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if indexOf(keys, m.Content[i].Value) < 0 {
			kept = append(kept, m.Content[i], m.Content[i+1])
		}
	}
	m.Content = kept
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

// fields builds a mapping node from key/value pairs in order, skipping nil values.
func fields(pairs ...any) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i+1]
		if v == nil {
			continue
		}
		n, ok := v.(*yaml.Node)
		if !ok {
			n = &yaml.Node{}
			if err := n.Encode(v); err != nil {
				return nil, err
			}
		}
		m.Content = append(m.Content, scalar(pairs[i].(string)), n)
	}
	return m, nil
}

// opt returns nil for zero values so fields leaves them out.
func opt[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	if d, ok := any(v).(time.Duration); ok {
		return d.String()
	}
	return v
}

func stepNode(s *StepSpec) (*yaml.Node, error) {
	var guard, wait, retry, rollback, with, needs, outputs any
	if s.Guard != nil {
		guard = s.Guard.Expr
	}
	if s.Wait != nil {
		w, err := fields("timeout", opt(s.Wait.Timeout), "interval", opt(s.Wait.Interval))
		if err != nil {
			return nil, err
		}
		wait = w
	}
	if s.Retry != nil {
		r, err := retryNode(s.Retry)
		if err != nil {
			return nil, err
		}
		retry = r
	}
	if s.Rollback != nil {
		rb, err := stepNode(s.Rollback)
		if err != nil {
			return nil, err
		}
		rollback = rb
	}
	if len(s.With) > 0 {
		with = s.With
	}
	if len(s.Needs) > 0 {
		needs = s.Needs
	}
	if len(s.Outputs) > 0 {
		outputs = s.Outputs
	}
	return fields("id", opt(s.ID), "action", opt(s.Action), "needs", needs, "with", with, "guard", guard,
		"wait", wait, "retry", retry, "timeout", opt(s.Timeout), "approval", opt(s.Approval),
		"estimate", opt(s.Estimate), "rollback", rollback, "outputs", outputs)
}

func retryNode(r *RetrySpec) (*yaml.Node, error) {
	return fields("attempts", opt(r.Attempts), "initial", opt(r.Initial), "max", opt(r.Max), "budget", opt(r.Budget))
}
