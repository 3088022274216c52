package plans

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The kinds fleetplan ships are listed in documentation order, Template
// last; a kind registered later takes the place its Order gives it.
func TestKindsInDocumentationOrder(t *testing.T) {
	shipped := []string{KindShardLayout, KindRollingUpgrade, KindInstanceChange, KindShardMapRecovery, KindTemplate}
	var got []string
	for _, k := range Kinds() {
		if slices.Contains(shipped, k) {
			got = append(got, k)
		}
	}
	if !slices.Equal(got, shipped) {
		t.Errorf("Kinds() = %v, want the shipped kinds in the order %v", Kinds(), shipped)
	}
	if all := Kinds(); all[len(all)-1] != KindTemplate {
		t.Errorf("Kinds() = %v, want Template last", all)
	}
	dir := writeFiles(t, map[string]string{"plan.yaml": "apiVersion: fleetplan/v1\nmetadata: {name: x}\nspec: {}\n"})
	_, diags := Load(filepath.Join(dir, "plan.yaml"))
	if want := "kind is one of " + strings.Join(Kinds(), ", "); len(diags) != 1 || diags[0].Hint != want {
		t.Errorf("missing kind: %v, want the hint %q", diags, want)
	}
}

func TestRegisterKindRefusesDuplicatesAndMissingDecoders(t *testing.T) {
	for _, k := range []KindDef{
		{Name: KindShardLayout, Decode: func(*SpecDecoder) any { return nil }},
		{Name: "NoDecoder"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterKind(%s) did not panic", k.Name)
				}
			}()
			RegisterKind(k)
		}()
	}
	if slices.Contains(Kinds(), "NoDecoder") {
		t.Error("a kind without a decoder was registered")
	}
}

// onFailure defaults per kind: an instance operation cannot be undone, so an
// InstanceChange pauses; the other kinds roll back. A written value wins.
func TestOnFailureDefaultPerKind(t *testing.T) {
	specs := map[string]string{
		"InstanceChange":   "  instances: {labels: {env: prod}}\n  desired: {tier: GeneralPurpose}\n",
		"ShardLayout":      "  shardMap: M\n  keyType: int64\n  shards: [{name: s0, server: sql-1, database: db0}]\n  ranges: [{low: 0, shard: s0}]\n",
		"ShardMapRecovery": "  shardMap: M\n  failover: {fromServer: sql-1, toServer: sql-2}\n",
	}
	for name, tc := range map[string]struct{ kind, written, want string }{
		"instance default":  {"InstanceChange", "", OnFailurePause},
		"instance rollback": {"InstanceChange", "rollback", OnFailureRollback},
		"layout default":    {"ShardLayout", "", OnFailureRollback},
		"layout pause":      {"ShardLayout", "pause", OnFailurePause},
		"recovery default":  {"ShardMapRecovery", "", OnFailureRollback},
	} {
		t.Run(name, func(t *testing.T) {
			plan := "apiVersion: fleetplan/v1\nkind: " + tc.kind + "\nmetadata: {name: x}\nspec:\n  target: local\n" + specs[tc.kind]
			if tc.written != "" {
				plan += "  onFailure: " + tc.written + "\n"
			}
			doc := mustLoad(t, writeFiles(t, map[string]string{"fleetplan.yaml": testConfig, "p.yaml": plan})).Documents[0]
			var got string
			switch tc.kind {
			case "InstanceChange":
				got = doc.InstanceChange().OnFailure
			case "ShardLayout":
				got = doc.ShardLayout().OnFailure
			case "ShardMapRecovery":
				got = doc.ShardMapRecovery().OnFailure
			}
			if got != tc.want {
				t.Errorf("onFailure = %q, want %q", got, tc.want)
			}
		})
	}
}
