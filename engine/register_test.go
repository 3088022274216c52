package engine

// The driver and actions main links, for the tests of this package.
import (
	_ "github.com/fleetplan/fleetplan/fleet/local"
	_ "github.com/fleetplan/fleetplan/steps/app"
	_ "github.com/fleetplan/fleetplan/steps/database"
	_ "github.com/fleetplan/fleetplan/steps/generic"
	_ "github.com/fleetplan/fleetplan/steps/instance"
	_ "github.com/fleetplan/fleetplan/steps/recovery"
	_ "github.com/fleetplan/fleetplan/steps/shardmap"
	_ "github.com/fleetplan/fleetplan/steps/traffic"
)
