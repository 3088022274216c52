package fleettest

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

// This file ports what the .NET library reads from OperationsLogGlobal.Data
// when it undoes another client's operation: StoreOperationFactory.FromLogEntry
// and the Create*Operation methods it calls (StoreOperationFactory.cs:880-1085
// at Azure/elastic-db-tools b31d748), with StoreObjectFormatterXml's readers
// (ReadIStoreShardMap, ReadIStoreShard, ReadIStoreMapping, ReadLock,
// ReadShardLocation). XElement.Element returns null for a missing element and
// every read dereferences it, so a missing element is an exception there and
// an error here, as is a value Guid.Parse, Int32.Parse or Boolean.Parse
// rejects.

// xe is a parsed element, as much of XElement as the readers use.
type xe struct {
	name     string
	attrs    map[string]string
	children []*xe
	text     string
}

func (e *xe) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	e.name = start.Name.Local
	e.attrs = map[string]string{}
	for _, a := range start.Attr {
		e.attrs[a.Name.Local] = a.Value
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c := &xe{}
			if err := c.UnmarshalXML(d, t); err != nil {
				return err
			}
			e.children = append(e.children, c)
		case xml.CharData:
			e.text += string(t)
		case xml.EndElement:
			return nil
		}
	}
}

// libReader reads like the library, remembering the first failure.
type libReader struct{ err error }

func (r *libReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// element is XElement.Element(name) dereferenced: a missing one fails.
func (r *libReader) element(e *xe, path ...string) *xe {
	for _, name := range path {
		if e == nil {
			return nil
		}
		var next *xe
		for _, c := range e.children {
			if c.name == name {
				next = c
				break
			}
		}
		if next == nil {
			r.fail("<%s> has no <%s> (NullReferenceException)", e.name, name)
			return nil
		}
		e = next
	}
	return e
}

func (r *libReader) value(e *xe, path ...string) string {
	e = r.element(e, path...)
	if e == nil {
		return ""
	}
	return e.text
}

func (r *libReader) attr(e *xe, name string) string {
	if e == nil {
		return ""
	}
	v, ok := e.attrs[name]
	if !ok {
		r.fail("<%s> has no attribute %s (NullReferenceException)", e.name, name)
	}
	return v
}

func (r *libReader) guid(s string) {
	if _, err := uuid.Parse(strings.TrimSpace(s)); err != nil && r.err == nil {
		r.fail("Guid.Parse(%q): %v", s, err)
	}
}

func (r *libReader) int32(s string) int {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		r.fail("Int32.Parse(%q): %v", s, err)
	}
	return int(n)
}

// boolean is Boolean.Parse: "True" or "False", any case, trimmed.
func (r *libReader) boolean(s string) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "false":
	default:
		r.fail("Boolean.Parse(%q): not True or False", s)
	}
}

// bytes is StringUtils.StringToByteArray: the two first characters are
// skipped, the rest is hex pairs.
func (r *libReader) bytes(s string) {
	if len(s) < 2 || len(s)%2 != 0 {
		r.fail("StringToByteArray(%q): bad length", s)
		return
	}
	if _, err := elasticdb.ParseHexKey(s); err != nil {
		r.fail("StringToByteArray(%q): %v", s, err)
	}
}

func (r *libReader) shardMap(e *xe) {
	if r.int32(r.attr(e, "Null")) == 0 {
		r.guid(r.value(e, "Id"))
		r.value(e, "Name")
		r.int32(r.value(e, "Kind"))
		r.int32(r.value(e, "KeyKind"))
	}
}

func (r *libReader) shard(e *xe) {
	if e == nil || r.int32(r.attr(e, "Null")) != 0 {
		return
	}
	r.guid(r.value(e, "Id"))
	r.guid(r.value(e, "Version"))
	r.guid(r.value(e, "ShardMapId"))
	loc := r.element(e, "Location")
	r.value(loc, "ServerName")
	r.value(loc, "DatabaseName")
	r.int32(r.value(loc, "Protocol"))
	r.int32(r.value(loc, "Port"))
	r.int32(r.value(e, "Status"))
}

func (r *libReader) mapping(e, shard *xe) {
	r.guid(r.value(e, "Id"))
	r.guid(r.value(e, "ShardMapId"))
	r.shard(shard)
	r.bytes(r.value(e, "MinValue"))
	if r.int32(r.attr(r.element(e, "MaxValue"), "Null")) != 1 {
		r.bytes(r.value(e, "MaxValue"))
	}
	r.int32(r.value(e, "Status"))
	r.guid(r.value(e, "LockOwnerId"))
}

func (r *libReader) lock(e *xe) { r.guid(r.value(e, "Id")) }

// ReadAsLibrary reads a log row's document as the library's FromLogEntry
// does for its operation code; nil means the library can build the
// operation (and so undo it).
func ReadAsLibrary(code int, data string) error {
	var root xe
	if err := xml.Unmarshal([]byte(data), &root); err != nil {
		return fmt.Errorf("XElement.Load: %v", err)
	}
	r := &libReader{}
	step := func() *xe { return r.element(&root, "Steps", "Step") }
	r.shardMap(r.element(&root, "ShardMap"))
	switch code {
	case fleet.OpAddShard, fleet.OpRemoveShard:
		r.shard(r.element(step(), "Shard"))
	case fleet.OpUpdateShard:
		r.shard(r.element(step(), "Shard"))
		r.shard(r.element(step(), "Update", "Shard"))
	case fleet.OpAddPointMapping, fleet.OpAddRangeMapping:
		r.mapping(r.element(step(), "Mapping"), r.element(&root, "Adds", "Shard"))
	case fleet.OpRemovePointMapping, fleet.OpRemoveRangeMapping:
		r.mapping(r.element(step(), "Mapping"), r.element(&root, "Removes", "Shard"))
		r.lock(r.element(step(), "Lock"))
	case fleet.OpUpdatePointMapping, fleet.OpUpdateRangeMapping, fleet.OpUpdatePointMappingWithOffline, fleet.OpUpdateRangeMappingWithOffline:
		r.mapping(r.element(step(), "Mapping"), r.element(&root, "Removes", "Shard"))
		r.mapping(r.element(step(), "Update", "Mapping"), r.element(&root, "Adds", "Shard"))
		r.value(&root, "PatternForKill")
		r.lock(r.element(step(), "Lock"))
		r.boolean(r.value(&root, "KillConnection"))
	case fleet.OpSplitMapping, fleet.OpMergeMappings:
		removes, adds := r.element(&root, "Removes", "Shard"), r.element(&root, "Adds", "Shard")
		for _, s := range r.element(&root, "Steps").children {
			if s.name != "Step" {
				continue
			}
			var shard *xe
			switch r.attr(s, "Kind") {
			case "1":
				shard = removes
			case "3":
				shard = adds
			default:
				continue
			}
			r.int32(r.attr(s, "Id"))
			r.mapping(r.element(s, "Mapping"), shard)
			r.lock(r.element(s, "Lock"))
		}
	default:
		return fmt.Errorf("operation code %d: FromLogEntry has no case for it (Debug.Fail, returns null)", code)
	}
	return r.err
}
