package planner

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// Kind is one plan kind as the commands use it: how to observe a target for
// a document of the kind and plan it, and how to fingerprint the live state
// a saved plan of it was made from. Each kind is one value, registered by
// its live-state adapter (package livestate) with RegisterKind; the
// commands look it up by the document's kind and never switch on kinds.
// The target a document uses is plans.Document.Target, for every kind.
type Kind interface {
	// Name is the document kind, e.g. "ShardLayout".
	Name() string
	// Plan observes target for doc and diffs doc against what it saw.
	Plan(ctx context.Context, doc *plans.Document, target fleet.Target, opt Options) (*stepgraph.Graph, diag.List)
	// Fingerprint observes target again and identifies the live state a
	// graph of doc is planned from, as Plan sets Graph.Fingerprint.
	Fingerprint(ctx context.Context, doc *plans.Document, target fleet.Target) (string, error)
}

// EndStater is implemented by kinds whose runs record the live state they
// ended in (runner.Options.EndState), so a plan that ends where it began
// can tell a finished run from a new one.
type EndStater interface {
	EndState(ctx context.Context, target fleet.Target, g *stepgraph.Graph) (string, error)
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// RegisterKind adds a kind to the table; it panics on a second kind of the
// same name.
func RegisterKind(k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k.Name()]; dup {
		panic(fmt.Sprintf("planner: kind %s registered twice", k.Name()))
	}
	kinds[k.Name()] = k
}

// KindNamed returns the registered kind of that name.
func KindNamed(name string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// KindNames lists the registered kinds, sorted.
func KindNames() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]string, 0, len(kinds))
	for n := range kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
