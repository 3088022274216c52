package sqlserver

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

func gid(n byte) uuid.UUID { return uuid.UUID{15: n} }

var (
	goldMap   = fleet.ShardMap{ID: gid(1), Name: "CustomerMap", Type: fleet.RangeMap, KeyType: fleet.KeyInt64}
	goldShard = elasticdb.ShardRow{ID: gid(2), Version: gid(3), MapID: gid(1),
		Loc: fleet.Location{Server: "sql-1.database.windows.net", Database: "customers_1"}, Status: 1}
	goldOld = elasticdb.MappingRow{ID: gid(4), MapID: gid(1), Min: []byte{0x80, 0, 0, 0, 0, 0, 0xc3, 0x50}, Status: 1}
	goldNew = elasticdb.MappingRow{ID: gid(5), MapID: gid(1), Min: goldOld.Min, Max: []byte{0x80, 0, 0, 0, 0, 1, 0x24, 0xf8}, Status: 0,
		LockOwner: uuid.MustParse("11111111-2222-3333-4444-555555555555")}
)

// TestRequestXMLGolden compares every request document the driver sends to
// the library's procedures with testdata/requests.golden, which was checked
// element by element against StoreOperationRequestBuilder and
// StoreObjectFormatterXml of the library (2.4.2) and ELASTICDB.md §1.4.
func TestRequestXMLGolden(t *testing.T) {
	op := gid(7)
	split := &elasticdb.Operation{ID: op, Code: fleet.OpSplitMapping, Map: goldMap, Source: &goldShard, Target: &goldShard,
		OrigSource: gid(8), OrigTarget: gid(8), Steps: []elasticdb.Step{
			{Kind: elasticdb.StepRemove, Lock: fleet.NoLock, Mapping: goldOld},
			{Kind: elasticdb.StepAdd, Lock: fleet.NoLock, Mapping: elasticdb.MappingRow{ID: gid(9), MapID: gid(1), Min: goldOld.Min, Max: goldNew.Max, Status: 1}},
			{Kind: elasticdb.StepAdd, Lock: fleet.NoLock, Mapping: elasticdb.MappingRow{ID: gid(10), MapID: gid(1), Min: goldNew.Max, Status: 1}},
		}}
	begin, err := gsmDoc(split, false)
	if err != nil {
		t.Fatal(err)
	}
	undo, err := gsmDoc(split, true)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{
		"gsm split (Begin and End)":    begin,
		"gsm split (End, Undo)":        undo,
		"find and update log entry":    findAndUpdateLogDoc(op, elasticdb.UndoBegin),
		"add shard map":                addShardMapDoc(goldMap),
		"lock mapping":                 lockOrUnlockDoc(goldMap, goldOld, goldNew.LockOwner, lockOpLock),
		"unlock mapping":               lockOrUnlockDoc(goldMap, goldOld, fleet.ForceUnlock, lockOpUnlockMappingForID),
		"add schema info":              schemaInfoDoc(true, "CustomerMap", `<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance"></Schema>`),
		"update schema info":           schemaInfoDoc(false, "CustomerMap", `<Schema xmlns:i="http://www.w3.org/2001/XMLSchema-instance"></Schema>`),
		"add shard local":              addShardLocalDoc(op, false, goldMap, goldShard),
		"add shard local (undo)":       addShardLocalDoc(op, true, goldMap, goldShard),
		"remove shard local":           removeShardLocalDoc(op, goldMap, goldShard),
		"update shard local":           updateShardLocalDoc(op, goldMap, goldShard),
		"lsm add mapping":              lsmMappingsDoc(op, false, goldMap, goldShard, nil, []elasticdb.MappingRow{goldNew}),
		"lsm remove mapping (undo)":    lsmMappingsDoc(op, true, goldMap, goldShard, []elasticdb.MappingRow{goldNew}, nil),
		"lsm update mapping":           lsmMappingsDoc(op, false, goldMap, goldShard, []elasticdb.MappingRow{goldOld}, []elasticdb.MappingRow{goldNew}),
		"kill sessions of a shard map": killSessionsDoc(elasticdb.KillPattern(goldMap.ID)),
		"escaped name in a shard map":  addShardMapDoc(fleet.ShardMap{ID: gid(1), Name: `a<b&"c"`, Type: fleet.ListMap, KeyType: fleet.KeyGuid}),
	}
	for name, d := range docs {
		if err := xml.Unmarshal([]byte(d), new(struct{ XMLName xml.Name })); err != nil {
			t.Errorf("%s is not well-formed XML: %v", name, err)
		}
	}
	golden(t, "requests.golden", docs)
	if strings.Count(undo, `Undo="1"`) != 1 || strings.Contains(undo, `Undo="0"`) {
		t.Errorf("the undo document must differ only in its root's Undo: %s", undo)
	}
}

// TestLSMStepsAsTheProcedureReadsThem reads a local document back along the
// paths spBulkOperationShardMappingsLocal reads: @OperationId, @Undo,
// @StepsCount, Shard/Id and Version, Steps/Step[@Id][@Kind]/Mapping.
func TestLSMStepsAsTheProcedureReadsThem(t *testing.T) {
	doc := lsmMappingsDoc(gid(7), true, goldMap, goldShard, []elasticdb.MappingRow{goldOld}, []elasticdb.MappingRow{goldNew})
	var x struct {
		OperationId string                                   `xml:"OperationId,attr"`
		Undo        int                                      `xml:"Undo,attr"`
		StepsCount  int                                      `xml:"StepsCount,attr"`
		Lsm         struct{ MajorVersion, MinorVersion int } `xml:"LsmVersion"`
		Shard       struct{ Id, Version string }
		Steps       []struct {
			Id, Kind int `xml:",attr"`
			Mapping  struct {
				Id, MinValue string
				MaxValue     struct {
					Null int    `xml:",attr"`
					V    string `xml:",chardata"`
				}
				Status int
			}
		} `xml:"Steps>Step"`
	}
	if err := xml.Unmarshal([]byte(doc), &x); err != nil {
		t.Fatal(err)
	}
	if x.OperationId != gid(7).String() || x.Undo != 1 || x.StepsCount != 2 || x.Lsm.MajorVersion != 1 || x.Lsm.MinorVersion != 2 {
		t.Errorf("header: %+v", x)
	}
	if x.Shard.Id != goldShard.ID.String() || x.Shard.Version != goldShard.Version.String() {
		t.Errorf("shard: %+v", x.Shard)
	}
	if len(x.Steps) != 2 || x.Steps[0].Id != 1 || x.Steps[0].Kind != elasticdb.StepRemove || x.Steps[1].Id != 2 || x.Steps[1].Kind != elasticdb.StepAdd {
		t.Fatalf("steps: %+v", x.Steps)
	}
	if m := x.Steps[0].Mapping; m.MinValue != "0x800000000000c350" || m.MaxValue.Null != 1 || m.Status != 1 {
		t.Errorf("removed mapping: %+v", m)
	}
	if m := x.Steps[1].Mapping; m.MaxValue.Null != 0 || m.MaxValue.V != "0x80000000000124f8" || m.Status != 0 {
		t.Errorf("added mapping: %+v", m)
	}
}
