package elasticdb

import (
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// ---- XML in the library's request shape (StoreOperationRequestBuilder) ----

type xVersion struct {
	MajorVersion int
	MinorVersion int
}

type xShardMap struct {
	Null    int    `xml:"Null,attr"`
	Id      string `xml:"Id"`
	Name    string `xml:"Name"`
	Kind    int    `xml:"Kind"`
	KeyKind int    `xml:"KeyKind"`
}

type xLocation struct {
	Protocol     int
	ServerName   string
	Port         int
	DatabaseName string
}

type xShard struct {
	Null       int `xml:"Null,attr"`
	Id         string
	Version    string
	ShardMapId string
	Location   xLocation
	Status     int
}

type xMaxValue struct {
	Null  int    `xml:"Null,attr"`
	Value string `xml:",chardata"`
}

type xMapping struct {
	Id          string
	ShardMapId  string
	MinValue    string
	MaxValue    xMaxValue
	Status      int
	LockOwnerId string
}

type xLock struct{ Id string }

type xUpdate struct {
	Mapping *xMapping `xml:"Mapping,omitempty"`
	Shard   *xShard   `xml:"Shard,omitempty"`
}

type xStep struct {
	Validate *int      `xml:"Validate,attr,omitempty"`
	Kind     int       `xml:"Kind,attr"`
	Id       int       `xml:"Id,attr"`
	Lock     *xLock    `xml:"Lock,omitempty"`
	Mapping  *xMapping `xml:"Mapping,omitempty"`
	Shard    *xShard   `xml:"Shard,omitempty"`
	Update   *xUpdate  `xml:"Update,omitempty"`
	// attrs is the order the library's builder writes the attributes in,
	// as letters: i(d), v(alidate), k(ind).
	attrs string
}

// xStepBody is a step's elements, written after its attributes.
type xStepBody struct {
	Lock    *xLock    `xml:"Lock,omitempty"`
	Mapping *xMapping `xml:"Mapping,omitempty"`
	Shard   *xShard   `xml:"Shard,omitempty"`
	Update  *xUpdate  `xml:"Update,omitempty"`
}

// MarshalXML writes the step's attributes in the order of the builder of
// its operation (StoreOperationRequestBuilder), so a document reads exactly
// as the library's.
func (s xStep) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = nil
	for _, a := range s.attrs {
		switch a {
		case 'i':
			start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "Id"}, Value: strconv.Itoa(s.Id)})
		case 'v':
			if s.Validate != nil {
				start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "Validate"}, Value: strconv.Itoa(*s.Validate)})
			}
		case 'k':
			start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "Kind"}, Value: strconv.Itoa(s.Kind)})
		}
	}
	return e.EncodeElement(xStepBody{Lock: s.Lock, Mapping: s.Mapping, Shard: s.Shard, Update: s.Update}, start)
}

type xShardHolder struct {
	Shard xShard
}

type xOp struct {
	XMLName       xml.Name
	OperationId   string   `xml:"OperationId,attr"`
	OperationCode int      `xml:"OperationCode,attr"`
	Undo          int      `xml:"Undo,attr"`
	StepsCount    int      `xml:"StepsCount,attr"`
	GsmVersion    xVersion `xml:"GsmVersion"`
	// UpdateMapping only: the application name pattern of the sessions to
	// kill when the mapping goes offline, and whether to.
	PatternForKill *string       `xml:"PatternForKill,omitempty"`
	KillConnection *string       `xml:"KillConnection,omitempty"`
	ShardMap       xShardMap     `xml:"ShardMap"`
	Removes        *xShardHolder `xml:"Removes,omitempty"`
	Adds           *xShardHolder `xml:"Adds,omitempty"`
	Steps          struct {
		Step []xStep `xml:"Step"`
	} `xml:"Steps"`
	// RemoveShardGlobal writes an empty <AddSteps/> after the steps.
	AddSteps *struct{} `xml:"AddSteps,omitempty"`
}

// KillPattern is the PatternForKill of a shard map: the application name
// suffix the .NET library (ProductVersion 2.0.0) puts on its routing
// connections (ShardMap.ApplicationNameSuffix, GlobalConstants.ShardMapManagerPrefix).
func KillPattern(mapID uuid.UUID) string { return "ESC_SMMv2.0.0_User" + mapID.String() }

// IsUpdateMappingCode reports whether an operation code is an UpdateMapping
// (codes 6, 7, 10, 11), whose documents carry PatternForKill and KillConnection.
func IsUpdateMappingCode(code int) bool {
	switch code {
	case fleet.OpUpdatePointMapping, fleet.OpUpdatePointMappingWithOffline, fleet.OpUpdateRangeMapping, fleet.OpUpdateRangeMappingWithOffline:
		return true
	}
	return false
}

// stepAttrs is the attribute order of the builder of an operation's steps.
func stepAttrs(code int, shardOp bool) string {
	switch {
	case shardOp:
		return "ki" // AddShardGlobal, RemoveShardGlobal, UpdateShardGlobal
	case code == fleet.OpSplitMapping || code == fleet.OpMergeMappings:
		return "vki" // ReplaceShardMappingsGlobal
	}
	return "ivk" // AddShardMappingGlobal, RemoveShardMappingGlobal, UpdateShardMappingGlobal
}

// HexKey renders an encoded key as the library does: "0x" and lowercase hex.
func HexKey(b []byte) string { return "0x" + hex.EncodeToString(b) }

// ParseHexKey reads a key written by HexKey; "0x" is the empty key.
func ParseHexKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, fmt.Errorf("key %q lacks 0x", s)
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func toXShard(s *ShardRow) *xShard {
	return &xShard{Id: s.ID.String(), Version: s.Version.String(), ShardMapId: s.MapID.String(),
		Location: xLocation{ServerName: s.Loc.Server, DatabaseName: s.Loc.Database}, Status: s.Status}
}

func toXMapping(m MappingRow) *xMapping {
	x := &xMapping{Id: m.ID.String(), ShardMapId: m.MapID.String(), MinValue: HexKey(m.Min), Status: m.Status,
		LockOwnerId: m.LockOwner.String()}
	if m.Max == nil {
		x.MaxValue.Null = 1
	} else {
		x.MaxValue.Value = HexKey(m.Max)
	}
	return x
}

// XML renders the operation as the library's request document, which is
// what OperationsLogGlobal.Data holds.
func (op *Operation) XML() (string, error) {
	x := xOp{
		OperationId:   op.ID.String(),
		OperationCode: op.Code,
		StepsCount:    len(op.Steps),
		GsmVersion:    xVersion{StoreVersionMajor, StoreVersionMinor},
		ShardMap:      xShardMap{Id: op.Map.ID.String(), Name: op.Map.Name, Kind: int(op.Map.Type), KeyKind: int(op.Map.KeyType)},
	}
	if op.ShardOp {
		x.XMLName.Local = "BulkOperationShardsGlobal"
		if op.Code == fleet.OpRemoveShard {
			x.AddSteps = &struct{}{}
		}
	} else {
		x.XMLName.Local = "BulkOperationShardMappingsGlobal"
		x.Removes = &xShardHolder{Shard: *toXShard(op.Source)}
		x.Adds = &xShardHolder{Shard: *toXShard(op.Target)}
		if IsUpdateMappingCode(op.Code) {
			// fleetplan always asks for the kill, as the library's default
			// MappingOptions.Validate does.
			p, kill := KillPattern(op.Map.ID), "true"
			x.PatternForKill, x.KillConnection = &p, &kill
		}
	}
	attrs := stepAttrs(op.Code, op.ShardOp)
	replace := op.Code == fleet.OpSplitMapping || op.Code == fleet.OpMergeMappings
	for i, s := range op.Steps {
		xs := xStep{Kind: s.Kind, Id: i + 1, attrs: attrs}
		if op.ShardOp {
			xs.Shard = toXShard(s.Shard)
			if s.NewShard != nil {
				xs.Update = &xUpdate{Shard: toXShard(s.NewShard)}
			}
		} else {
			v := 0
			if s.Validate {
				v = 1
			}
			xs.Validate = &v
			if s.Kind != StepAdd || replace {
				xs.Lock = &xLock{Id: s.Lock.String()}
			}
			xs.Mapping = toXMapping(s.Mapping)
			if s.New != nil {
				xs.Update = &xUpdate{Mapping: toXMapping(*s.New)}
			}
		}
		x.Steps.Step = append(x.Steps.Step, xs)
	}
	b, err := xml.Marshal(x)
	return string(b), err
}

func fromXShard(x *xShard) (*ShardRow, error) {
	if x == nil || x.Null != 0 {
		return nil, errors.New("shard element missing")
	}
	var s ShardRow
	var err error
	if s.ID, err = ParseID(x.Id); err != nil {
		return nil, err
	}
	if s.Version, err = ParseID(x.Version); err != nil {
		return nil, err
	}
	if s.MapID, err = ParseID(x.ShardMapId); err != nil {
		return nil, err
	}
	if x.Location.Protocol != 0 || x.Location.Port != 0 {
		return nil, fmt.Errorf("shard %s uses protocol %d port %d; the local driver has neither", x.Id, x.Location.Protocol, x.Location.Port)
	}
	s.Loc = fleet.Location{Server: x.Location.ServerName, Database: x.Location.DatabaseName}
	s.Status = x.Status
	return &s, nil
}

func fromXMapping(x *xMapping) (MappingRow, error) {
	var m MappingRow
	if x == nil {
		return m, errors.New("mapping element missing")
	}
	var err error
	if m.ID, err = ParseID(x.Id); err != nil {
		return m, err
	}
	if m.MapID, err = ParseID(x.ShardMapId); err != nil {
		return m, err
	}
	if m.Min, err = ParseHexKey(x.MinValue); err != nil {
		return m, err
	}
	if x.MaxValue.Null == 0 {
		if m.Max, err = ParseHexKey(x.MaxValue.Value); err != nil {
			return m, err
		}
	}
	m.Status = x.Status
	if x.LockOwnerId != "" {
		if m.LockOwner, err = ParseID(x.LockOwnerId); err != nil {
			return m, err
		}
	}
	return m, nil
}

// ParseLogRow reads a log row back (ours or the library's).
func ParseLogRow(r LogRow) (*Operation, error) {
	return ParseOperation(r.Code, r.Data, r.ShardVersionRemoves, r.ShardVersionAdds)
}

// ParseOperation reads an operation from its code, its request document and
// the log's original shard versions (nil when the column is NULL).
func ParseOperation(code int, data string, removes, adds *uuid.UUID) (*Operation, error) {
	var x xOp
	if err := xml.Unmarshal([]byte(data), &x); err != nil {
		return nil, err
	}
	op := &Operation{Code: code}
	var err error
	if op.ID, err = ParseID(x.OperationId); err != nil {
		return nil, err
	}
	if op.Map.ID, err = ParseID(x.ShardMap.Id); err != nil {
		return nil, err
	}
	op.Map.Name, op.Map.Type, op.Map.KeyType = x.ShardMap.Name, fleet.MapType(x.ShardMap.Kind), fleet.KeyType(x.ShardMap.KeyKind)
	switch x.XMLName.Local {
	case "BulkOperationShardsGlobal":
		op.ShardOp = true
	case "BulkOperationShardMappingsGlobal":
		if x.Removes == nil || x.Adds == nil {
			return nil, errors.New("mapping operation without <Removes> and <Adds>")
		}
		if op.Source, err = fromXShard(&x.Removes.Shard); err != nil {
			return nil, fmt.Errorf("Removes: %v", err)
		}
		if op.Target, err = fromXShard(&x.Adds.Shard); err != nil {
			return nil, fmt.Errorf("Adds: %v", err)
		}
		// The log columns hold the versions before the operation.
		op.OrigSource, op.OrigTarget = op.Source.Version, op.Target.Version
		if removes != nil {
			op.OrigSource = *removes
		}
		if adds != nil {
			op.OrigTarget = *adds
		}
	default:
		return nil, fmt.Errorf("unknown operation document <%s>", x.XMLName.Local)
	}
	for _, xs := range x.Steps.Step {
		s := Step{Kind: xs.Kind, Validate: xs.Validate != nil && *xs.Validate == 1}
		if xs.Kind < StepRemove || xs.Kind > StepAdd {
			return nil, fmt.Errorf("step %d: unknown kind %d", xs.Id, xs.Kind)
		}
		if xs.Lock != nil {
			if s.Lock, err = ParseID(xs.Lock.Id); err != nil {
				return nil, err
			}
		}
		if op.ShardOp {
			if s.Shard, err = fromXShard(xs.Shard); err != nil {
				return nil, fmt.Errorf("step %d: %v", xs.Id, err)
			}
			if xs.Update != nil && xs.Update.Shard != nil {
				if s.NewShard, err = fromXShard(xs.Update.Shard); err != nil {
					return nil, fmt.Errorf("step %d: %v", xs.Id, err)
				}
			}
		} else {
			if s.Mapping, err = fromXMapping(xs.Mapping); err != nil {
				return nil, fmt.Errorf("step %d: %v", xs.Id, err)
			}
			if xs.Update != nil && xs.Update.Mapping != nil {
				n, err := fromXMapping(xs.Update.Mapping)
				if err != nil {
					return nil, fmt.Errorf("step %d: %v", xs.Id, err)
				}
				s.New = &n
			}
			if s.Kind == StepUpdate && s.New == nil {
				return nil, fmt.Errorf("step %d: update without <Update>", xs.Id)
			}
		}
		op.Steps = append(op.Steps, s)
	}
	return op, nil
}
