package elasticdb

import (
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// StoreErr is a store result code as an error of operation op on target.
func StoreErr(op string, target string, r fleet.StoreResult, hint string) error {
	return &fleet.Error{Op: op, Target: target, Err: r, Hint: hint}
}

// LockedErr refuses a change of a mapping that another owner has locked,
// naming the owner.
func LockedErr(what string, m fleet.ShardMap, mp MappingRow, owner uuid.UUID, r fleet.StoreResult) error {
	return &fleet.Error{Op: what, Target: m.Name,
		Err: &fleet.MappingLockedError{Mapping: BoundsText(m, mp.Min, mp.Max), Owner: owner, Result: r},
		Hint: "another run or tool holds this mapping (fleetplan runs lock the ranges they move with an owner derived from the run id); " +
			"wait for it to finish, or, if its owner is gone for good, clear LockOwnerId of the mapping in __ShardManagement_ShardMappingsGlobal " +
			"(the library's UnlockMapping) and plan again"}
}

// DifferenceHint is the hint for a change refused because the global and a
// local shard map differ: where to see the differences, and what works today.
func DifferenceHint(mapName, what string) string {
	return what + ": `fleetplan layout --shard-map " + mapName + "` lists the differences between the global and local shard maps; " +
		"`fleetplan doctor --write-plan FILE` writes the ShardMapRecovery plan that resolves them; or restore the shard database from a backup taken after its last " +
		"shard map change, or rebuild its local shard map from the global one with the Elastic Database library's RecoveryManager, then plan again"
}

func differ(what string, loc fleet.Location, mapName string, r fleet.StoreResult, format string, args ...any) error {
	return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: "+format, append([]any{r}, args...)...),
		Hint: DifferenceHint(mapName, "the global and local shard maps differ")}
}

const retryHint = "retry: a write that meets the pending operation rolls it back once its owner is gone"
