package stepspec

// Shard-map actions. Bounds are written as 0x-hex text (the key's
// normalized bytes); "" is +inf. Key and map types are their names
// ("int64", "range").
const (
	CreateMapName     = "shardmap.create-map"
	SetSchemaInfoName = "shardmap.set-schema-info"
	CreateShardName   = "shardmap.create-shard"
	RemoveShardName   = "shardmap.remove-shard"
	SplitName         = "shardmap.split"
	MergeName         = "shardmap.merge"
	AddMappingName    = "shardmap.add-mapping"
	RemoveMappingName = "shardmap.remove-mapping"
	MoveRangeName     = "shardmap.move-range"
)

var _ = declare(CreateMap{}, SetSchemaInfo{}, CreateShard{}, RemoveShard{}, Split{}, Merge{},
	AddMapping{}, RemoveMapping{}, MoveRange{})

// ShardedTable is a table whose rows move with the sharding key.
type ShardedTable struct {
	Table string `json:"table" yaml:"table" input:"required"`
	Key   string `json:"key" yaml:"key" input:"required"` // the key column
}

// Tables are the sharded and reference tables of a shard map's schema info.
type Tables struct {
	Sharded   []ShardedTable `json:"sharded" yaml:"sharded"`
	Reference []string       `json:"reference" yaml:"reference"`
}

// CreateMap creates a shard map.
type CreateMap struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	MapType  string `json:"mapType" yaml:"mapType" input:"required"`
	KeyType  string `json:"keyType" yaml:"keyType" input:"required"`
}

// SetSchemaInfo records the sharded and reference tables of a shard map.
type SetSchemaInfo struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Tables
}

// CreateShard registers a database as a shard (creating it, and its
// tables from SchemaFile, where needed).
type CreateShard struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Location
	CreateDatabase bool   `json:"createDatabase" yaml:"createDatabase"`
	Adopt          bool   `json:"adopt" yaml:"adopt"`
	SchemaFile     string `json:"schemaFile,omitempty" yaml:"schemaFile,omitempty"`
}

// RemoveShard unregisters a shard and, when asked, drops its database.
type RemoveShard struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	Location
	DropDatabase    bool     `json:"dropDatabase" yaml:"dropDatabase"`
	DropOnlyIfEmpty bool     `json:"dropOnlyIfEmpty" yaml:"dropOnlyIfEmpty"`
	Reference       []string `json:"reference" yaml:"reference"` // tables that do not count as rows for DropOnlyIfEmpty
	// UnlistDatabase also removes the database from the fleet's catalog
	// (it was not listed before the shard was made); nil leaves it out.
	UnlistDatabase *bool `json:"unlistDatabase,omitempty" yaml:"unlistDatabase,omitempty"`
}

// Split splits the mapping holding At into two at At.
type Split struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	KeyType  string `json:"keyType" yaml:"keyType"`
	At       string `json:"at" yaml:"at"`
}

// Merge merges the mappings of [Low, High) into one.
type Merge struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	KeyType  string `json:"keyType" yaml:"keyType"`
	Low      string `json:"low" yaml:"low"`
	High     string `json:"high" yaml:"high"`
}

// AddMapping maps [Low, High) to a shard.
type AddMapping struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	KeyType  string `json:"keyType" yaml:"keyType"`
	Low      string `json:"low" yaml:"low"`
	High     string `json:"high" yaml:"high"`
	Location
}

// RemoveMapping removes the (empty) mappings of [Low, High). Server and
// Database name the shard they are on, for readers of the plan; the action
// removes whatever mappings the range holds.
type RemoveMapping struct {
	ShardMap string `json:"shardMap" yaml:"shardMap" input:"required"`
	KeyType  string `json:"keyType" yaml:"keyType"`
	Low      string `json:"low" yaml:"low"`
	High     string `json:"high" yaml:"high"`
	Server   string `json:"server" yaml:"server"`
	Database string `json:"database" yaml:"database"`
}

// MoveRange moves the rows of [Low, High) from one shard to another in
// batches and repoints the mappings.
type MoveRange struct {
	ShardMap  string   `json:"shardMap" yaml:"shardMap" input:"required"`
	KeyType   string   `json:"keyType" yaml:"keyType" input:"required"`
	Low       string   `json:"low" yaml:"low"`
	High      string   `json:"high" yaml:"high"`
	From      Location `json:"from" yaml:"from" input:"required"`
	To        Location `json:"to" yaml:"to" input:"required"`
	BatchSize int      `json:"batchSize" yaml:"batchSize" input:"default=100"`
	Tables
	// Undo marks the reverse move of a rollback: keys still on its target
	// (never moved) do not make rows on its source its own.
	Undo bool `json:"undo,omitempty" yaml:"undo,omitempty"`
}

// Action implements Spec.
func (CreateMap) Action() string { return CreateMapName }

// Action implements Spec.
func (SetSchemaInfo) Action() string { return SetSchemaInfoName }

// Action implements Spec.
func (CreateShard) Action() string { return CreateShardName }

// Action implements Spec.
func (RemoveShard) Action() string { return RemoveShardName }

// Action implements Spec.
func (Split) Action() string { return SplitName }

// Action implements Spec.
func (Merge) Action() string { return MergeName }

// Action implements Spec.
func (AddMapping) Action() string { return AddMappingName }

// Action implements Spec.
func (RemoveMapping) Action() string { return RemoveMappingName }

// Action implements Spec.
func (MoveRange) Action() string { return MoveRangeName }
