package fleet

import "context"

// ElasticPool is an elastic pool of a logical server: databases that share
// its compute and storage.
type ElasticPool struct {
	Server string `json:"server"`
	Name   string `json:"name"`
	Region string `json:"region,omitempty"`
	// SKU is the service's name for the pool's size ("GP_Gen5", "StandardPool"),
	// Tier its edition, Capacity its vCores or eDTUs.
	SKU      string `json:"sku"`
	Tier     string `json:"tier,omitempty"`
	Capacity int    `json:"capacity,omitempty"`
	// MaxSizeBytes is the pool's storage limit; State is the service's
	// ("Ready", "Creating", "Disabled").
	MaxSizeBytes int64  `json:"maxSizeBytes,omitempty"`
	State        string `json:"state,omitempty"`
	// Databases are the names of the server's databases in the pool, sorted.
	Databases []string `json:"databases"`
}

// ElasticPoolReader is implemented by control planes that have elastic
// pools. It only reads: moving a database into a pool or resizing one is
// not served.
type ElasticPoolReader interface {
	// ElasticPools lists the pools of server, or of every server of the
	// fleet when server is "", by server and name.
	ElasticPools(ctx context.Context, server string) ([]ElasticPool, error)
}
