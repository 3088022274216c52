package local

import (
	"regexp"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The shard map tables carry the library's constraint names, so an error
// or a schema dump reads the same as on SQL Server: the names of
// Scripts/CreateShardMapManagerGlobal.cs and CreateShardMapManagerLocal.cs
// (Azure/elastic-db-tools b31d748), with the version tables' primary keys as
// the 1.0 to 1.1 upgrade scripts rename them.
func TestConstraintNamesAreTheLibrarys(t *testing.T) {
	want := []string{
		"fkShardMappingsGlobal_ShardId", "fkShardMappingsGlobal_ShardMapId", "fkShardMappingsLocal_ShardId", "fkShardMappingsLocal_ShardMapId",
		"fkShardsGlobal_ShardMapId", "fkShardsLocal_ShardMapId", "pkOperationsLogGlobal_OperationId",
		"pkShardMapManagerGlobal_StoreVersionMajor", "pkShardMapManagerLocal_StoreVersionMajor",
		"pkShardMappingsGlobal_ShardMapId_MinValue_Readable", "pkShardMappingsLocal_MappingId", "pkShardMapsGlobal_ShardMapId",
		"pkShardMapsLocal_ShardMapId", "pkShardedDatabaseSchemaInfosGlobal_Name", "pkShardsGlobal_ShardId", "pkShardsLocal_ShardId",
		"ucShardMappingsGlobal_MappingId", "ucShardMappingsLocal_ShardMapId_MinValue", "ucShardMapsGlobal_Name",
		"ucShardsGlobal_Location", "ucShardsLocal_ShardMapId_Location",
	}
	var got []string
	for _, m := range regexp.MustCompile(`CONSTRAINT (\w+)`).FindAllStringSubmatch(gsmDDL+lsmDDL, -1) {
		got = append(got, m[1])
	}
	sort.Strings(got)
	sort.Strings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("constraint names (-library +ours):\n%s", d)
	}
}
