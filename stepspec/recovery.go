package stepspec

// Recovery actions: the library's RecoveryManager operations as steps. Each
// changing step has a rollback branch that restores the rows a snapshot
// step kept (in the run's journal) before it.
const (
	RecoverySnapshotName       = "recovery.snapshot"
	RecoveryRestoreName        = "recovery.restore"
	RecoveryDetachName         = "recovery.detach"
	RecoveryAttachName         = "recovery.attach"
	RecoveryDetectName         = "recovery.detect"
	RecoveryResolveName        = "recovery.resolve"
	RecoveryVerifyName         = "recovery.verify"
	RecoveryUpdateLocationName = "recovery.update-location"
	RecoveryMoveRowsName       = "recovery.move-rows"
)

var _ = declare(RecoverySnapshot{}, RecoveryRestore{}, RecoveryDetach{}, RecoveryAttach{}, RecoveryDetect{},
	RecoveryResolve{}, RecoveryVerify{}, RecoveryUpdateLocation{}, RecoveryMoveRows{})

// RecoverySnapshot reads the map's global shard map rows and its local
// shard map rows at Locations; its output "snapshot" is what a
// RecoveryRestore puts back.
type RecoverySnapshot struct {
	ShardMap  string     `json:"shardMap" yaml:"shardMap" input:"required"`
	Locations []Location `json:"locations" yaml:"locations"`
}

// RecoveryRestore puts the rows of a snapshot back exactly.
type RecoveryRestore struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Snapshot string `json:"snapshot" yaml:"snapshot" input:"required"` // JSON, from a RecoverySnapshot's outputs
}

// RecoveryDetach removes a shard from the global shard map (DetachShard).
// It refuses while the shard's database holds rows in its mapped ranges,
// or cannot be read, unless Force.
type RecoveryDetach struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Location
	Force bool `json:"force,omitempty" yaml:"force,omitempty"`
	// Relocated marks the detach of a failover's old location, whose rows
	// are attached again at the new one in the next steps.
	Relocated string `json:"relocated,omitempty" yaml:"relocated,omitempty"`
}

// RecoveryAttach adds the shard the database's local shard map holds to
// the global shard map at this location (AttachShard).
type RecoveryAttach struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Location
}

// RecoveryDetect lists the differences of one shard (DetectMappingDifferences);
// it changes nothing.
type RecoveryDetect struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Location
}

// RecoveryResolve resolves one shard's differences (ResolveMappingDifferences).
type RecoveryResolve struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Location
	Resolution string `json:"resolution" yaml:"resolution" input:"required"` // keepShardMapping or keepShardMapMapping
}

// RecoveryVerify fails while the shard has differences or the map has
// pending operations; it changes nothing.
type RecoveryVerify struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Location
}

// RecoveryUpdateLocation repoints a shard to its renamed or moved database.
type RecoveryUpdateLocation struct {
	ShardMap string   `json:"shardMap" yaml:"shardMap" input:"required"`
	From     Location `json:"from" yaml:"from" input:"required"`
	To       Location `json:"to" yaml:"to" input:"required"`
}

// RecoveryMoveRows moves every row whose key the global shard map sends to
// another shard onto that shard: copied where missing, then deleted where it
// was only when an equal copy is there. Rows that differ are kept and fail
// the step.
type RecoveryMoveRows struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Batch    int    `json:"batch,omitempty" yaml:"batch,omitempty"`
}

// Action implements Spec.
func (RecoverySnapshot) Action() string { return RecoverySnapshotName }

// Action implements Spec.
func (RecoveryRestore) Action() string { return RecoveryRestoreName }

// Action implements Spec.
func (RecoveryDetach) Action() string { return RecoveryDetachName }

// Action implements Spec.
func (RecoveryAttach) Action() string { return RecoveryAttachName }

// Action implements Spec.
func (RecoveryDetect) Action() string { return RecoveryDetectName }

// Action implements Spec.
func (RecoveryResolve) Action() string { return RecoveryResolveName }

// Action implements Spec.
func (RecoveryVerify) Action() string { return RecoveryVerifyName }

// Action implements Spec.
func (RecoveryUpdateLocation) Action() string { return RecoveryUpdateLocationName }

// Action implements Spec.
func (RecoveryMoveRows) Action() string { return RecoveryMoveRowsName }
