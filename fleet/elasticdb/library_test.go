package elasticdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
)

// Documents in the library's exact shape, written from its request builder
// (StoreOperationRequestBuilder.cs and StoreObjectFormatterXml.cs at
// Azure/elastic-db-tools b31d748; line numbers at each builder), as SQL
// Server's xml column gives them back: an empty element is self-closed.

func libShardMap(m fleet.ShardMap) string { // StoreObjectFormatterXml.WriteIStoreShardMap
	return fmt.Sprintf(`<ShardMap Null="0"><Id>%s</Id><Name>%s</Name><Kind>%d</Kind><KeyKind>%d</KeyKind></ShardMap>`, m.ID, m.Name, m.Type, m.KeyType)
}

func libShard(s *ShardRow) string { // WriteIStoreShard, WriteShardLocation
	return fmt.Sprintf(`<Shard Null="0"><Id>%s</Id><Version>%s</Version><ShardMapId>%s</ShardMapId><Location><Protocol>0</Protocol><ServerName>%s</ServerName><Port>0</Port><DatabaseName>%s</DatabaseName></Location><Status>%d</Status></Shard>`,
		s.ID, s.Version, s.MapID, s.Loc.Server, s.Loc.Database, s.Status)
}

func libMapping(m MappingRow) string { // WriteIStoreMapping
	max := `<MaxValue Null="1" />`
	if m.Max != nil {
		max = `<MaxValue Null="0">` + HexKey(m.Max) + `</MaxValue>`
	}
	return fmt.Sprintf(`<Mapping><Id>%s</Id><ShardMapId>%s</ShardMapId><MinValue>%s</MinValue>%s<Status>%d</Status><LockOwnerId>%s</LockOwnerId></Mapping>`,
		m.ID, m.MapID, HexKey(m.Min), max, m.Status, m.LockOwner)
}

func libLock(s Step) string { return `<Lock><Id>` + s.Lock.String() + `</Id></Lock>` } // WriteLock

const libVersion = `<GsmVersion><MajorVersion>1</MajorVersion><MinorVersion>2</MinorVersion></GsmVersion>`

func libHead(root string, op *Operation) string {
	return fmt.Sprintf(`<%s OperationId="%s" OperationCode="%d" Undo="0" StepsCount="%d">%s`, root, op.ID, op.Code, len(op.Steps), libVersion)
}

func libShards(op *Operation) string {
	return `<Removes>` + libShard(op.Source) + `</Removes><Adds>` + libShard(op.Target) + `</Adds>`
}

// libraryDocument is the library's request document for op.
func libraryDocument(op *Operation) string {
	const root = "BulkOperationShardMappingsGlobal"
	s := op.Steps[0]
	switch op.Code {
	case fleet.OpAddShard: // AddShardGlobal, :346
		return libHead("BulkOperationShardsGlobal", op) + libShardMap(op.Map) +
			`<Steps><Step Kind="3" Id="1">` + libShard(s.Shard) + `</Step></Steps></BulkOperationShardsGlobal>`
	case fleet.OpRemoveShard: // RemoveShardGlobal, :377
		return libHead("BulkOperationShardsGlobal", op) + libShardMap(op.Map) +
			`<Steps><Step Kind="1" Id="1">` + libShard(s.Shard) + `</Step></Steps><AddSteps /></BulkOperationShardsGlobal>`
	case fleet.OpAddPointMapping, fleet.OpAddRangeMapping: // AddShardMappingGlobal, :499
		return libHead(root, op) + libShardMap(op.Map) + libShards(op) +
			`<Steps><Step Id="1" Validate="1" Kind="3">` + libMapping(s.Mapping) + `</Step></Steps></` + root + `>`
	case fleet.OpRemovePointMapping, fleet.OpRemoveRangeMapping: // RemoveShardMappingGlobal, :536
		return libHead(root, op) + libShardMap(op.Map) + libShards(op) +
			`<Steps><Step Id="1" Validate="0" Kind="1">` + libLock(s) + libMapping(s.Mapping) + `</Step></Steps></` + root + `>`
	case fleet.OpSplitMapping, fleet.OpMergeMappings: // ReplaceShardMappingsGlobal, :624
		var b strings.Builder
		b.WriteString(libHead(root, op) + libShardMap(op.Map) + libShards(op) + `<Steps>`)
		for i, s := range op.Steps {
			fmt.Fprintf(&b, `<Step Validate="0" Kind="%d" Id="%d">%s%s</Step>`, s.Kind, i+1, libLock(s), libMapping(s.Mapping))
		}
		return b.String() + `</Steps></` + root + `>`
	}
	// UpdateShardMappingGlobal, :578 (codes 6, 7, 10, 11)
	return libHead(root, op) + `<PatternForKill>` + KillPattern(op.Map.ID) + `</PatternForKill><KillConnection>true</KillConnection>` +
		libShardMap(op.Map) + libShards(op) +
		`<Steps><Step Id="1" Validate="0" Kind="2">` + libLock(s) + libMapping(s.Mapping) + `<Update>` + libMapping(*s.New) + `</Update></Step></Steps></` + root + `>`
}

// Every document fleetplan writes reads under the library's rules, so a
// .NET or Java client that meets our pending operation can undo it.
func TestOurDocumentsReadAsLibrary(t *testing.T) {
	for name, op := range goldenOps(t) {
		t.Run(name, func(t *testing.T) {
			doc, err := op.XML()
			if err != nil {
				t.Fatal(err)
			}
			if err := readAsLibrary(op.Code, doc); err != nil {
				t.Fatalf("the library cannot read our %s document: %v\n%s", name, err, doc)
			}
			if err := readAsLibrary(op.Code, libraryDocument(op)); err != nil {
				t.Fatalf("the port rejects the library's own %s document: %v", name, err)
			}
		})
	}
	// The port is strict where the library is: the shapes fleetplan wrote
	// before are rejected.
	ops := goldenOps(t)
	for name, tc := range map[string]struct {
		op       *Operation
		old, new string
	}{
		"update without PatternForKill": {ops["offline"], "<PatternForKill>", "<Pattern>"},
		"KillConnection as a number":    {ops["move"], "<KillConnection>true<", "<KillConnection>1<"},
		"split add without Lock":        {ops["split"], `Kind="3" Id="2"><Lock>`, `Kind="3" Id="2"><NoLock>`},
	} {
		doc, _ := tc.op.XML()
		if err := readAsLibrary(tc.op.Code, strings.Replace(doc, tc.old, tc.new, 1)); err == nil {
			t.Errorf("%s: the port accepts it", name)
		}
	}
}

// A pending operation the library left (its document, the GSM and LSM rows
// its procedures wrote) is undone by us, restoring the store exactly.
func TestUndoLibraryOperations(t *testing.T) {
	ctx := context.Background()
	for name, op := range map[string]func(t *testing.T, f *fixture) *Operation{
		"add shard":    func(t *testing.T, f *fixture) *Operation { return AddShardOp(f.r, dbC) },
		"remove shard": func(t *testing.T, f *fixture) *Operation { return RemoveShardOp(f.r, f.shard("R/B")) },
		"add mapping":  func(t *testing.T, f *fixture) *Operation { return AddMappingOp(f.r, f.shard("R/B"), k64(300), nil) },
		"remove mapping": func(t *testing.T, f *fixture) *Operation {
			return RemoveMappingOp(f.r, f.shard("R/A"), f.mapping(t, f.r, k64(200)), fleet.NoLock)
		},
		"mark offline": func(t *testing.T, f *fixture) *Operation {
			return SetOnlineOp(f.l, f.shard("L/A"), f.mapping(t, f.l, k64(1)), false, fleet.NoLock)
		},
		"move": func(t *testing.T, f *fixture) *Operation {
			return RepointOp(f.r, f.shard("R/A"), f.shard("R/B"), f.mapping(t, f.r, k64(200)), true, fleet.NoLock)
		},
		"split": func(t *testing.T, f *fixture) *Operation {
			return SplitOp(f.r, f.shard("R/A"), f.mapping(t, f.r, []byte{}), k64(50), fleet.NoLock)
		},
		"merge": func(t *testing.T, f *fixture) *Operation {
			return MergeOp(f.r, f.shard("R/A"), f.mapping(t, f.r, []byte{}), f.mapping(t, f.r, k64(100)), fleet.NoLock)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			o := op(t, f)
			before := f.s.dump()
			f.s.crashAt = CrashAfterLSMTarget
			if err := Run(ctx, f.s, o); !errors.Is(err, ErrSimulatedCrash) {
				t.Fatal(err)
			}
			f.s.gsm.log[0].Data = libraryDocument(o)
			if ids, err := RecoverPending(ctx, f.s); err != nil || len(ids) != 1 {
				t.Fatalf("RecoverPending = %v, %v", ids, err)
			}
			if d := cmp.Diff(before, f.s.dump()); d != "" {
				t.Fatalf("(-before +after):\n%s", d)
			}
		})
	}
}
