package elasticdb

import (
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func id(n byte) uuid.UUID { return uuid.UUID{15: n} }

var testMap = fleet.ShardMap{ID: id(1), Name: "CustomerMap", Type: fleet.RangeMap, KeyType: fleet.KeyInt64}

func splitOp() *Operation {
	sh := &ShardRow{ID: id(2), Version: id(3), MapID: id(1), Loc: fleet.Location{Server: "sql-1", Database: "customers_1"}, Status: 1}
	old := MappingRow{ID: id(4), MapID: id(1), Min: []byte{0x80, 0, 0xc3, 0x50}, Status: 1}
	lo := MappingRow{ID: id(5), MapID: id(1), Min: old.Min, Max: []byte{0x80, 1, 0x24, 0xf8}, Status: 1, LockOwner: id(9)}
	hi := MappingRow{ID: id(6), MapID: id(1), Min: lo.Max, Status: 1, LockOwner: id(9)}
	return &Operation{ID: id(7), Code: fleet.OpSplitMapping, Map: testMap, Source: sh, Target: sh,
		OrigSource: id(8), OrigTarget: id(8),
		Steps: []Step{{Kind: StepRemove, Lock: id(9), Mapping: old}, {Kind: StepAdd, Mapping: lo}, {Kind: StepAdd, Mapping: hi}}}
}

func addShardOp() *Operation {
	sh := &ShardRow{ID: id(2), Version: id(3), MapID: id(1), Loc: fleet.Location{Server: "sql-1", Database: "customers_2"}, Status: 1}
	return &Operation{ID: id(7), Code: fleet.OpAddShard, Map: testMap, ShardOp: true, Steps: []Step{{Kind: StepAdd, Shard: sh}}}
}

func updateOp() *Operation {
	op := splitOp()
	op.Code = fleet.OpUpdateRangeMapping
	op.Target = &ShardRow{ID: id(10), Version: id(11), MapID: id(1), Loc: fleet.Location{Server: "sql-2", Database: "customers_3"}, Status: 1}
	op.OrigTarget = id(12)
	nw := op.Steps[0].Mapping
	nw.ID, nw.Status = id(13), 0
	op.Steps = []Step{{Kind: StepUpdate, Lock: id(9), Mapping: op.Steps[0].Mapping, New: &nw}}
	return op
}

// The request documents are stored verbatim in OperationsLogGlobal.Data and
// replayed by the library's clients: their shape must not drift.
func TestXMLGolden(t *testing.T) {
	z := "00000000-0000-0000-0000-0000000000"
	tests := map[string]struct {
		op   *Operation
		want string
	}{
		"split": {splitOp(), `<BulkOperationShardMappingsGlobal OperationId="` + z + `07" OperationCode="14" Undo="0" StepsCount="3">` +
			`<GsmVersion><MajorVersion>1</MajorVersion><MinorVersion>2</MinorVersion></GsmVersion>` +
			`<ShardMap Null="0"><Id>` + z + `01</Id><Name>CustomerMap</Name><Kind>2</Kind><KeyKind>2</KeyKind></ShardMap>` +
			`<Removes><Shard Null="0"><Id>` + z + `02</Id><Version>` + z + `03</Version><ShardMapId>` + z + `01</ShardMapId>` +
			`<Location><Protocol>0</Protocol><ServerName>sql-1</ServerName><Port>0</Port><DatabaseName>customers_1</DatabaseName></Location><Status>1</Status></Shard></Removes>` +
			`<Adds><Shard Null="0"><Id>` + z + `02</Id><Version>` + z + `03</Version><ShardMapId>` + z + `01</ShardMapId>` +
			`<Location><Protocol>0</Protocol><ServerName>sql-1</ServerName><Port>0</Port><DatabaseName>customers_1</DatabaseName></Location><Status>1</Status></Shard></Adds>` +
			`<Steps><Step Validate="0" Kind="1" Id="1"><Lock><Id>` + z + `09</Id></Lock>` +
			`<Mapping><Id>` + z + `04</Id><ShardMapId>` + z + `01</ShardMapId><MinValue>0x8000c350</MinValue><MaxValue Null="1"></MaxValue><Status>1</Status><LockOwnerId>` + z[:len(z)-2] + `0000</LockOwnerId></Mapping></Step>` +
			`<Step Validate="0" Kind="3" Id="2"><Mapping><Id>` + z + `05</Id><ShardMapId>` + z + `01</ShardMapId><MinValue>0x8000c350</MinValue><MaxValue Null="0">0x800124f8</MaxValue><Status>1</Status><LockOwnerId>` + z + `09</LockOwnerId></Mapping></Step>` +
			`<Step Validate="0" Kind="3" Id="3"><Mapping><Id>` + z + `06</Id><ShardMapId>` + z + `01</ShardMapId><MinValue>0x800124f8</MinValue><MaxValue Null="1"></MaxValue><Status>1</Status><LockOwnerId>` + z + `09</LockOwnerId></Mapping></Step></Steps>` +
			`</BulkOperationShardMappingsGlobal>`},
		"add shard": {addShardOp(), `<BulkOperationShardsGlobal OperationId="` + z + `07" OperationCode="1" Undo="0" StepsCount="1">` +
			`<GsmVersion><MajorVersion>1</MajorVersion><MinorVersion>2</MinorVersion></GsmVersion>` +
			`<ShardMap Null="0"><Id>` + z + `01</Id><Name>CustomerMap</Name><Kind>2</Kind><KeyKind>2</KeyKind></ShardMap>` +
			`<Steps><Step Kind="3" Id="1"><Shard Null="0"><Id>` + z + `02</Id><Version>` + z + `03</Version><ShardMapId>` + z + `01</ShardMapId>` +
			`<Location><Protocol>0</Protocol><ServerName>sql-1</ServerName><Port>0</Port><DatabaseName>customers_2</DatabaseName></Location><Status>1</Status></Shard></Step></Steps>` +
			`</BulkOperationShardsGlobal>`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.op.XML()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("XML (-want +got):\n%s", d)
			}
		})
	}
}

// Every operation this package writes reads back as itself, with the log
// columns' original versions.
func TestXMLRoundTrip(t *testing.T) {
	for name, op := range map[string]*Operation{"split": splitOp(), "add shard": addShardOp(), "update": updateOp()} {
		t.Run(name, func(t *testing.T) {
			data, err := op.XML()
			if err != nil {
				t.Fatal(err)
			}
			var rem, add *uuid.UUID
			if !op.ShardOp {
				rem, add = &op.OrigSource, &op.OrigTarget
			}
			got, err := ParseOperation(op.Code, data, rem, add)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(op, got); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseOperationRefuses(t *testing.T) {
	good, _ := splitOp().XML()
	tests := map[string]struct{ data, want string }{
		"not xml":        {"<", "XML syntax error"},
		"unknown root":   {strings.ReplaceAll(good, "BulkOperationShardMappingsGlobal", "Other"), "unknown operation document <Other>"},
		"no removes":     {strings.ReplaceAll(good, "Removes>", "Removed>"), "without <Removes> and <Adds>"},
		"bad step kind":  {strings.Replace(good, `Kind="1"`, `Kind="4"`, 1), "step 1: unknown kind 4"},
		"bad key":        {strings.Replace(good, "0x8000c350", "8000c350", 1), `lacks 0x`},
		"port":           {strings.Replace(good, "<Port>0</Port>", "<Port>1433</Port>", 1), "the local driver has neither"},
		"bad uuid":       {strings.Replace(good, `OperationId="00000000-0000-0000-0000-000000000007"`, `OperationId="x"`, 1), `bad uuid "x"`},
		"update no body": {strings.Replace(good, `Kind="1"`, `Kind="2"`, 1), "step 1: update without <Update>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseOperation(fleet.OpSplitMapping, tc.data, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
