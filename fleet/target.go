package fleet

import "context"

// Target is an opened connection to one fleet (one `targets:` entry of
// fleetplan.yaml). Drivers implement it; richer capabilities (the shard map
// store, data movement, the control plane) are separate interfaces that a
// driver's Target also implements, discovered with type assertions.
type Target interface {
	// Name is the target's name in fleetplan.yaml.
	Name() string
	// Driver is the driver name ("local", "sqlserver", "azure").
	Driver() string
	// Close releases connections. It is safe to call twice.
	Close() error
	// Ping checks that the fleet is reachable and well-formed.
	Ping(ctx context.Context) error
}
