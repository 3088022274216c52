package plans

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/plans/expression"
	"github.com/fleetplan/fleetplan/schema"
	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest plan or config file fleetplan reads (4 MiB).
// Larger files are refused before parsing, so a stray dump cannot eat memory.
const MaxFileSize = 4 << 20

// Alias expansion budget: a document may produce at most this many values
// beyond aliasSlackFactor times the nodes written in it. Billion-laughs style
// documents blow through it after a few thousand expansions.
const (
	aliasSlack       = 10_000
	aliasSlackFactor = 4
	maxDepth         = 200
)

// rawDoc is one YAML document converted to plain values. Positions are
// found by walking the YAML tree along a JSON pointer when a message needs
// one, so a large document costs no index of every value.
type rawDoc struct {
	file  string
	node  *yaml.Node // the document's root content node
	value any
	src   []byte // the file's text, to place positions inside scalars
	// budget is what the file's expressions may compute together at load.
	budget *expression.Budget
	mu     sync.Mutex                    // guards keys: positions are looked up from two goroutines
	keys   map[*yaml.Node]map[string]int // key -> index in Content, for large mappings
}

func nodePos(file string, n *yaml.Node) diag.Pos {
	if n == nil {
		return diag.Pos{File: file}
	}
	return diag.Pos{File: file, Line: n.Line, Col: n.Column}
}

// loc returns the location of the value at ptr or of its nearest ancestor.
// A value reached through an alias is reported where the alias is written;
// values inside it where the anchor's are.
func (d *rawDoc) loc(ptr string) schema.Loc {
	key, val, _ := d.resolve(ptr)
	l := schema.Loc{Value: nodePos(d.file, val)}
	if key != nil {
		l.Key = nodePos(d.file, key)
	}
	return l
}

// resolve walks ptr from the root and returns the key node (nil for the root
// and list items) and the value node (the alias itself for an aliased value)
// of the deepest value found along it; found says whether that is the value
// at ptr itself.
func (d *rawDoc) resolve(ptr string) (key, val *yaml.Node, found bool) {
	val = d.node
	for ptr != "" {
		ptr = ptr[1:]
		seg := ptr
		if i := strings.IndexByte(ptr, '/'); i >= 0 {
			seg, ptr = ptr[:i], ptr[i:]
		} else {
			ptr = ""
		}
		n := val
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		k, v := d.child(n, schema.Unescape(seg))
		if v == nil {
			return key, val, false
		}
		key, val = k, v
	}
	return key, val, true
}

// has reports whether the document holds a value at ptr.
func (d *rawDoc) has(ptr string) bool {
	_, _, found := d.resolve(ptr)
	return found
}

// child finds one step of a pointer: a list item by index, or the first
// mapping entry of that key (the converter keeps the first of duplicates).
func (d *rawDoc) child(n *yaml.Node, seg string) (key, val *yaml.Node) {
	switch n.Kind {
	case yaml.SequenceNode:
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(n.Content) || strconv.Itoa(i) != seg {
			return nil, nil
		}
		return nil, n.Content[i]
	case yaml.MappingNode:
		if len(n.Content) > 32 {
			d.mu.Lock()
			defer d.mu.Unlock()
			idx, ok := d.keys[n]
			if !ok {
				idx = map[string]int{}
				for i := 0; i+1 < len(n.Content); i += 2 {
					if name, ok := keyName(n.Content[i]); ok {
						if _, dup := idx[name]; !dup {
							idx[name] = i
						}
					}
				}
				if d.keys == nil {
					d.keys = map[*yaml.Node]map[string]int{}
				}
				d.keys[n] = idx
			}
			if i, ok := idx[seg]; ok {
				return n.Content[i], n.Content[i+1]
			}
			return nil, nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if name, ok := keyName(n.Content[i]); ok && name == seg {
				return n.Content[i], n.Content[i+1]
			}
		}
	}
	return nil, nil
}

// keyName is the name of a mapping key as the converter reads it.
func keyName(k *yaml.Node) (string, bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode || (k.Value == "<<" && k.ShortTag() == "!!merge") {
		return "", false
	}
	return k.Value, true
}

// locator returns a schema.Locator for pointers relative to base.
func (d *rawDoc) locator(base string) schema.Locator {
	return func(ptr string) schema.Loc { return d.loc(base + ptr) }
}

// pos is the value position at ptr; keyPos the key position (or the value's).
func (d *rawDoc) pos(ptr string) diag.Pos { return d.loc(ptr).Value }

func (d *rawDoc) keyPos(ptr string) diag.Pos {
	l := d.loc(ptr)
	if l.Key.Line != 0 {
		return l.Key
	}
	return l.Value
}

// node returns the YAML value node at ptr, or nil.
func (d *rawDoc) nodeAt(ptr string) *yaml.Node {
	_, n, found := d.resolve(ptr)
	if !found {
		return nil
	}
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// readFile reads a plan or config file, refusing files over MaxFileSize
// without reading them whole.
func readFile(path string) ([]byte, *diag.Diagnostic) {
	f, err := confine.Open(path)
	if errors.Is(err, confine.ErrNotRegular) {
		return nil, &diag.Diagnostic{Pos: diag.Pos{File: path}, Message: "cannot read file: " + unwrapPathError(err), Hint: "plan files are regular files; a pipe or a device is never read"}
	}
	if err != nil {
		return nil, &diag.Diagnostic{Pos: diag.Pos{File: path}, Message: "cannot read file: " + unwrapPathError(err), Hint: "check the path and its permissions"}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &diag.Diagnostic{Pos: diag.Pos{File: path}, Message: "cannot read file: " + unwrapPathError(err), Hint: "check the path and its permissions"}
	}
	if len(data) > MaxFileSize {
		size := int64(len(data))
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		return nil, &diag.Diagnostic{Pos: diag.Pos{File: path, Line: 1, Col: 1},
			Message: fmt.Sprintf("file is too large (%s); plan files are limited to %s", humanSize(size), humanSize(MaxFileSize)),
			Hint:    "split the plan into several files"}
	}
	return data, nil
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func humanSize(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// decodeYAML splits a file into documents and converts each to plain values.
// Problems are appended to diags; documents that could not be converted are
// dropped.
func decodeYAML(file string, data []byte, diags *diag.List) []*rawDoc {
	if d := checkEncoding(file, data); d != nil {
		diags.Add(*d)
		return nil
	}
	var docs []*rawDoc
	budget := expression.NewBudget()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := safeDecode(dec, &n)
		if err == io.EOF {
			break
		}
		if err != nil {
			reportYAMLError(file, data, err, diags)
			break
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue // an empty document, e.g. after a trailing ---
		}
		c := &converter{file: file, diags: diags, expanding: map[*yaml.Node]bool{}}
		c.limit = aliasSlackFactor*countNodes(root) + aliasSlack
		v := c.convert(root, 0)
		if c.aborted {
			continue
		}
		docs = append(docs, &rawDoc{file: file, node: root, value: v, src: data, budget: budget})
	}
	return docs
}

func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

func countNodes(n *yaml.Node) int {
	c := 1
	for _, ch := range n.Content {
		c += countNodes(ch)
	}
	return c
}

// converter turns yaml.Node trees into plain values the way JSON would see
// them: strings, int, float64, bool, nil, []any and map[string]any.
type converter struct {
	file       string
	diags      *diag.List
	count      int
	limit      int
	aborted    bool
	expanding  map[*yaml.Node]bool // anchors being expanded, to refuse self-reference
	outerAlias *yaml.Node          // the outermost alias being expanded, where a blow-up is reported
	badTags    map[*yaml.Node]bool // nodes whose tag was refused, reported once however often aliased
}

func (c *converter) pos(n *yaml.Node) diag.Pos { return nodePos(c.file, n) }

func (c *converter) convert(n *yaml.Node, depth int) any {
	if c.aborted {
		return nil
	}
	c.count++
	if c.count > c.limit {
		at := n
		if c.outerAlias != nil {
			at = c.outerAlias
		}
		c.diags.Errorf(c.pos(at), "aliases expand this document to more than %d values", c.limit).
			WithHint("this looks like an alias bomb; write the values out instead of nesting aliases")
		c.aborted = true
		return nil
	}
	if depth > maxDepth {
		c.diags.Errorf(c.pos(n), "document is nested more than %d levels deep", maxDepth).WithHint("flatten the document; plan values are never this deep")
		c.aborted = true
		return nil
	}
	c.checkTag(n)
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil || c.expanding[n.Alias] {
			c.diags.Errorf(c.pos(n), "alias *%s refers to itself", n.Value).WithHint("an alias cannot contain itself; write the values out")
			c.aborted = true
			return nil
		}
		c.expanding[n.Alias] = true
		if c.outerAlias == nil {
			c.outerAlias = n
			defer func() { c.outerAlias = nil }()
		}
		v := c.convert(n.Alias, depth+1)
		delete(c.expanding, n.Alias)
		return v
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			// A key written as an alias (*name) is reported where the alias
			// is, not at the anchor it repeats.
			at, k, val := n.Content[i], n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			c.checkTag(k)
			if k.Kind != yaml.ScalarNode {
				c.diags.Errorf(c.pos(at), "mapping keys must be plain strings").
					WithHint("a key is a name like target:; write lists and mappings as values, not as keys")
				continue
			}
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				c.diags.Errorf(c.pos(at), "merge keys (<<) are not supported").
					WithHint("write the fields out, or use a template with uses:/with:")
				continue
			}
			if _, dup := out[k.Value]; dup {
				c.diags.Errorf(c.pos(at), "duplicate key %q (first defined at line %d)", k.Value, firstKey(n, k.Value).Line).
					WithHint("a key may appear once per mapping; remove one of them or merge their values")
				continue
			}
			v := c.convert(val, depth+1)
			if s, ok := v.(string); ok {
				if why, hint := inlineSecret(k.Value, s); why != "" {
					c.diags.Errorf(c.pos(val), "%s", why).WithHint("%s", hint)
				}
			}
			out[k.Value] = v
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			out = append(out, c.convert(item, depth+1))
		}
		return out
	case yaml.ScalarNode:
		return scalarValue(n)
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return c.convert(n.Content[0], depth+1)
		}
	}
	return nil
}

// coreTags are the explicit tags a plan may carry: those of the values
// JSON has. Any other tag (!!binary, !!timestamp, !custom, !!python/...)
// would be read as something it does not say, so it is refused.
var coreTags = map[string]yaml.Kind{
	"!!str": yaml.ScalarNode, "!!int": yaml.ScalarNode, "!!float": yaml.ScalarNode,
	"!!bool": yaml.ScalarNode, "!!null": yaml.ScalarNode,
	"!!map": yaml.MappingNode, "!!seq": yaml.SequenceNode,
}

var kindNames = map[yaml.Kind]string{yaml.ScalarNode: "a scalar", yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}

// checkTag refuses an explicit tag other than the core ones, a core tag on
// the wrong kind of node, and a scalar its tag does not describe (!!int abc).
func (c *converter) checkTag(n *yaml.Node) {
	if n.Style&yaml.TaggedStyle == 0 || c.badTags[n] {
		return
	}
	tag := n.Tag
	kind, known := coreTags[tag]
	switch {
	case !known:
		c.diags.Errorf(c.pos(n), "unsupported YAML tag %s", tag).
			WithHint("plan files take no YAML tags beyond !!str, !!int, !!float, !!bool, !!null, !!map and !!seq; remove the tag, or quote the value to keep it as text")
	case kind != n.Kind:
		c.diags.Errorf(c.pos(n), "tag %s does not fit %s", tag, kindNames[n.Kind]).
			WithHint("remove the tag; the value's own form says what it is")
	case tag != "!!str" && n.Kind == yaml.ScalarNode && !resolvesAs(n, tag):
		c.diags.Errorf(c.pos(n), "%q is not a %s", n.Value, tag).
			WithHint("remove the tag, or write a value of that type")
	default:
		return
	}
	if c.badTags == nil {
		c.badTags = map[*yaml.Node]bool{}
	}
	c.badTags[n] = true
}

// resolvesAs reports whether scalar n, read without its tag, is a tag value.
func resolvesAs(n *yaml.Node, tag string) bool {
	plain := yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}
	got := plain.ShortTag()
	return got == tag || (tag == "!!float" && got == "!!int")
}

// firstKey is the first key of mapping n named name.
func firstKey(n *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, ok := keyName(n.Content[i]); ok && k == name {
			return n.Content[i]
		}
	}
	return n
}

// scalarValue resolves a scalar as JSON would see it. Dates and timestamps
// stay strings; integers that do not fit an int become float64.
func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return n.Value
}
