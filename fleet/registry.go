package fleet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// TargetConfig says how to open one target. The CLI converts a fleetplan.yaml
// target into it; drivers read Path and Options.
type TargetConfig struct {
	Name    string            // the target's name in fleetplan.yaml
	Driver  string            // "local", "sqlserver", ...
	Path    string            // local: the fleet directory
	Options map[string]string // driver-specific settings
	// Mode is what the target is opened for (the zero value: plans).
	Mode OpenMode
}

// OpenMode says what a target is opened for.
type OpenMode int

const (
	// OpenForPlans is every command but those below: a driver refuses a
	// shard map no plan can act on safely (two global mappings that share
	// keys), pointing at doctor.
	OpenForPlans OpenMode = iota
	// OpenForDiagnosis is doctor and layout: such a shard map is read, so
	// its differences can be shown and the plan that repairs it written.
	// Connections use the target's own credentials.
	OpenForDiagnosis
	// OpenForRecovery is a ShardMapRecovery run (plan, apply, resume,
	// rollback): it reads such a shard map too, and a driver that has
	// credentials connects to the shard maps with the target's recoveryAuth
	// (Options "recoveryAuth.*") when fleetplan.yaml names one.
	OpenForRecovery
)

// RecoveryAuthPrefix prefixes the TargetConfig.Options that hold a
// target's resolved recoveryAuth entries ("recoveryAuth.password"); they
// are set only when the target is opened for recovery.
const RecoveryAuthPrefix = "recoveryAuth."

// Tolerant reports whether the mode reads a shard map that recovery repairs.
func (m OpenMode) Tolerant() bool { return m == OpenForDiagnosis || m == OpenForRecovery }

// OpenFunc opens a target of one driver.
type OpenFunc func(ctx context.Context, cfg TargetConfig) (Target, error)

var (
	driversMu sync.RWMutex
	drivers   = map[string]OpenFunc{}
)

// Register makes a driver available to Open. Drivers call it from init. It
// panics on an empty name, a nil func or a duplicate name (a programming error).
func Register(driverName string, open OpenFunc) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if driverName == "" || open == nil {
		panic("fleet: Register needs a name and an open func")
	}
	if _, dup := drivers[driverName]; dup {
		panic("fleet: driver registered twice: " + driverName)
	}
	drivers[driverName] = open
}

// Drivers lists the registered driver names, sorted.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	out := make([]string, 0, len(drivers))
	for n := range drivers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Open opens a target with its registered driver.
func Open(ctx context.Context, cfg TargetConfig) (Target, error) {
	driversMu.RLock()
	open, ok := drivers[cfg.Driver]
	driversMu.RUnlock()
	if !ok {
		known := strings.Join(Drivers(), ", ")
		if known == "" {
			known = "none"
		}
		return nil, &Error{
			Op:     "open target",
			Target: cfg.Name,
			Err:    fmt.Errorf("unknown driver %q (forgotten import?)", cfg.Driver),
			Hint:   "registered drivers: " + known + "; a driver registers itself when its package is imported",
		}
	}
	return open(ctx, cfg)
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
