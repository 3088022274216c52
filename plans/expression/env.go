package expression

// Env is the environment every plan expression sees. It is method-free on
// purpose: exported methods would become callable from expressions.
type Env struct {
	// Live is the observed state of the target, filled by the planner/runner.
	Live Live `expr:"live"`
	// Params are the `with:` values of the template (after defaults).
	Params map[string]any `expr:"params"`
	// Steps holds the state and outputs of steps that already ran, by step id.
	Steps map[string]StepState `expr:"steps"`
	// Run describes the current run.
	Run Run `expr:"run"`

	meter  *meter  // what this evaluation has used of its budgets; set by Eval
	budget *Budget // a budget shared with other expressions (Within), or nil
}

// StepState is what an expression can see of one step.
type StepState struct {
	Status  string         `expr:"status"` // "pending", "running", "done", "failed", "skipped", "rolled-back"
	Outputs map[string]any `expr:"outputs"`
}

// Run describes the current run.
type Run struct {
	ID      string `expr:"id"`
	Target  string `expr:"target"`
	Plan    string `expr:"plan"`
	Attempt int    `expr:"attempt"`
}

// Live is the observed state of a target, as expressions see it.
type Live struct {
	Shards            []LiveShard    `expr:"shards"`
	Mappings          []LiveMapping  `expr:"mappings"`
	Databases         []LiveDatabase `expr:"databases"`
	Links             []LiveLink     `expr:"links"`
	Endpoints         []LiveEndpoint `expr:"endpoints"`
	Slots             []LiveSlot     `expr:"slots"`
	PendingOperations int            `expr:"pendingOperations"`
	// Differences lists where the global shard map and the shards' local
	// shard maps disagree (empty when they agree), e.g.
	// `len(live.differences) == 0` or
	// `none(live.differences, .shard == "customers_1")`.
	Differences []LiveDifference `expr:"differences"`
	// FailoverGroups lists the failover groups, e.g.
	// `all(live.failoverGroups, .state == "healthy")`.
	FailoverGroups []LiveFailoverGroup `expr:"failoverGroups"`
	// ElasticPools lists the elastic pools and their databases, e.g.
	// `any(live.elasticPools, "tenant_a" in .databases)`.
	ElasticPools []LiveElasticPool `expr:"elasticPools"`
}

// LiveDifference is one disagreement between the global shard map (GSM) and
// a shard's local shard map (LSM), or a pending operation.
type LiveDifference struct {
	ShardMap string `expr:"shardMap"`
	Shard    string `expr:"shard"` // the database name
	Server   string `expr:"server"`
	Database string `expr:"database"`
	// Kind is one of MappingInShardMapOnly, MappingInShardOnly,
	// MappingMismatch, ShardVersionMismatch, ShardMissingInShard,
	// DatabaseMissing, ShardInShardOnly, ShardMoved, ShardLocationMismatch,
	// MappingOverlapsOtherShard, GSMMappingsOverlap or PendingOperation.
	Kind   string `expr:"kind"`
	Detail string `expr:"detail"`
	// Token is the difference's stable recovery token ("" for a pending
	// operation, which the next shard map writer rolls back).
	Token string `expr:"token"`
	// Low and High bound the mapping involved, as text ("" when the
	// difference is about the whole shard).
	Low  string `expr:"low"`
	High string `expr:"high"`
}

// LiveShard is one shard of a shard map.
type LiveShard struct {
	Name     string `expr:"name"`
	Server   string `expr:"server"`
	Database string `expr:"database"`
	Online   bool   `expr:"online"`
	Mappings int    `expr:"mappings"`
	Rows     int64  `expr:"rows"`
}

// LiveMapping is one range or point mapping; bounds are rendered as text.
type LiveMapping struct {
	Low    string `expr:"low"`
	High   string `expr:"high"`
	Shard  string `expr:"shard"`
	Online bool   `expr:"online"`
	Locked bool   `expr:"locked"`
}

// LiveDatabase is one database of the fleet.
type LiveDatabase struct {
	Server    string `expr:"server"`
	Name      string `expr:"name"`
	Role      string `expr:"role"`     // "primary", "secondary", "standalone"
	ReadOnly  bool   `expr:"readOnly"` // refuses writes (its setting, or a geo-secondary)
	SizeBytes int64  `expr:"sizeBytes"`
	Version   string `expr:"version"`
}

// LiveLink is a geo-replication link.
type LiveLink struct {
	Primary    string  `expr:"primary"`
	Secondary  string  `expr:"secondary"`
	State      string  `expr:"state"` // "seeding", "catching-up", "healthy"
	LagSeconds float64 `expr:"lagSeconds"`
}

// LiveEndpoint is a traffic-manager endpoint.
type LiveEndpoint struct {
	Profile  string `expr:"profile"`
	Name     string `expr:"name"`
	Online   bool   `expr:"online"`
	Priority int    `expr:"priority"`
	Serving  bool   `expr:"serving"` // the endpoint that receives the profile's traffic
}

// LiveFailoverGroup is a failover group: its databases fail over together
// from the primary server to the secondary.
type LiveFailoverGroup struct {
	Name      string   `expr:"name"`
	Primary   string   `expr:"primary"`
	Secondary string   `expr:"secondary"`
	Databases []string `expr:"databases"`
	// State is "healthy" when every secondary is caught up, else "seeding"
	// or "catching-up".
	State           string `expr:"state"`
	ReadWritePolicy string `expr:"readWritePolicy"` // "automatic" or "manual"
}

// LiveElasticPool is an elastic pool of a server.
type LiveElasticPool struct {
	Server    string   `expr:"server"`
	Name      string   `expr:"name"`
	SKU       string   `expr:"sku"`
	Capacity  int      `expr:"capacity"` // vCores or eDTUs
	Databases []string `expr:"databases"`
}

// LiveSlot is an application deployment slot.
type LiveSlot struct {
	Name     string `expr:"name"`
	Version  string `expr:"version"`
	Database string `expr:"database"`
	Server   string `expr:"server"`
}

// Roots are the top-level names of the environment.
var Roots = []string{"live", "params", "steps", "run"}
