package faults

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// Environment variables.
const (
	EnvSpec  = "FLEETPLAN_FAULTS"        // e.g. "move.copy:40613:3,move.delete:exit:1"
	EnvIKnow = "FLEETPLAN_FAULTS_I_KNOW" // must be "yes" for EnvSpec to take effect
)

// Kind is what happens when a fault fires.
type Kind int

// Fault kinds.
const (
	Transient Kind = iota // a *fleet.Error with the given (transient) code
	Hard                  // a non-transient *fleet.Error
	Exit                  // the process kills itself with SIGKILL
	// Outage makes a database unavailable for a while, as a failover does:
	// from the hit on, every connection to it fails with 40613.
	Outage
)

// OutageCode is the error number of an outage: Azure SQL's "database is not
// currently available" during a reconfiguration (DOMAIN.md §3).
const OutageCode = 40613

// Fault is one parsed spec: at the Nth hit of Point (every hit when N is 0),
// do Kind.
type Fault struct {
	Point string
	Kind  Kind
	Code  int           // for Transient
	N     int           // 1-based hit number; 0 = every hit
	For   time.Duration // for Outage: how long the database stays unavailable
}

func (f Fault) String() string {
	what := map[Kind]string{Hard: "hard", Exit: "exit"}[f.Kind]
	if f.Kind == Transient {
		what = strconv.Itoa(f.Code)
	}
	n := "*"
	if f.N > 0 {
		n = strconv.Itoa(f.N)
	}
	if f.Kind == Outage {
		return f.Point + ":outage:" + f.For.String() + ":" + n
	}
	return f.Point + ":" + what + ":" + n
}

// ErrInjected is wrapped by every injected error.
var ErrInjected = errors.New("injected fault")

// Parse reads a comma-separated list of POINT:WHAT:N specs. WHAT is an error
// number (a *fleet.Error with that Code: transient if the number is), "hard"
// (a non-transient error) or "exit" (SIGKILL); N is the 1-based hit number, or
// "*" for every hit. An outage is POINT:outage:DURATION[:N] (N defaults to
// 1): from the Nth hit on, the database the point acts on is unavailable for
// DURATION (Go syntax: 30s, 1m30s).
func Parse(spec string) ([]Fault, error) {
	var out []Fault
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		if len(fields) >= 2 && fields[1] == "outage" {
			f, err := parseOutage(part, fields)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
			continue
		}
		if len(fields) != 3 || fields[0] == "" {
			return nil, fmt.Errorf("fault %q: want POINT:WHAT:N, like move.copy:40613:3", part)
		}
		f := Fault{Point: fields[0]}
		switch fields[1] {
		case "hard":
			f.Kind = Hard
		case "exit":
			f.Kind = Exit
		default:
			code, err := strconv.Atoi(fields[1])
			if err != nil || code <= 0 {
				return nil, fmt.Errorf("fault %q: WHAT must be an error number, hard or exit", part)
			}
			f.Kind, f.Code = Transient, code
		}
		if fields[2] != "*" {
			n, err := strconv.Atoi(fields[2])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("fault %q: N must be a hit number from 1, or *", part)
			}
			f.N = n
		}
		out = append(out, f)
	}
	return out, nil
}

func parseOutage(part string, fields []string) (Fault, error) {
	if len(fields) < 3 || len(fields) > 4 || fields[0] == "" {
		return Fault{}, fmt.Errorf("fault %q: want POINT:outage:DURATION[:N], like move.copy:outage:30s", part)
	}
	d, err := time.ParseDuration(fields[2])
	if err != nil || d <= 0 {
		return Fault{}, fmt.Errorf("fault %q: the outage's DURATION must be positive, like 30s or 1m", part)
	}
	f := Fault{Point: fields[0], Kind: Outage, Code: OutageCode, For: d, N: 1}
	if len(fields) == 4 {
		n, err := strconv.Atoi(fields[3])
		if err != nil || n < 1 {
			return Fault{}, fmt.Errorf("fault %q: N must be a hit number from 1", part)
		}
		f.N = n
	}
	return f, nil
}

var (
	state  atomic.Int32 // fast path for Hit: stateUnloaded, stateOff, stateOn, stateBad
	mu     sync.Mutex
	faults []Fault
	counts map[string]int
	// down holds the open outages: database (or point) -> when it ends.
	down   map[string]time.Time
	now    = time.Now
	cfgErr error
	warned bool
	stderr io.Writer = os.Stderr
	kill             = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }
)

// Check reads the environment (once) and reports a configuration error: a
// spec that does not parse, or FLEETPLAN_FAULTS set without
// FLEETPLAN_FAULTS_I_KNOW=yes. The CLI calls it at startup.
func Check() error {
	mu.Lock()
	defer mu.Unlock()
	loadLocked()
	return cfgErr
}

// Reload re-reads the environment and resets the hit counts (tests).
func Reload() error {
	mu.Lock()
	defer mu.Unlock()
	state.Store(stateUnloaded)
	loadLocked()
	return cfgErr
}

const (
	stateUnloaded int32 = iota
	stateOff
	stateOn
	stateBad
)

func loadLocked() {
	if state.Load() != stateUnloaded {
		return
	}
	faults, counts, down, cfgErr = nil, map[string]int{}, map[string]time.Time{}, nil
	st := stateOff
	defer func() {
		if cfgErr != nil {
			st = stateBad
		}
		state.Store(st)
	}()
	spec := os.Getenv(EnvSpec)
	if strings.TrimSpace(spec) == "" {
		return
	}
	if os.Getenv(EnvIKnow) != "yes" {
		cfgErr = &fleet.Error{
			Op:   "fault injection",
			Err:  fmt.Errorf("%s is set but %s is not \"yes\"", EnvSpec, EnvIKnow),
			Hint: fmt.Sprintf("fault injection breaks runs on purpose; unset %s, or also set %s=yes if you mean it", EnvSpec, EnvIKnow),
		}
		return
	}
	fs, err := Parse(spec)
	if err != nil {
		cfgErr = &fleet.Error{Op: "fault injection", Err: err, Hint: "see " + EnvSpec + " in the docs: POINT:WHAT:N[,...]"}
		return
	}
	faults = fs
	if len(fs) > 0 {
		st = stateOn
	}
	if len(fs) > 0 && !warned {
		warned = true
		names := make([]string, len(fs))
		for i, f := range fs {
			names[i] = f.String()
		}
		fmt.Fprintf(stderr, "WARNING: fault injection is ON: %s\n", strings.Join(names, ","))
	}
}

// Hit marks one pass through a named point and returns the fault planned for
// this hit, if any. It returns nil almost always, and costs one atomic load
// when injection is off. A configuration error (see Check) is returned from
// every hit so a misconfigured run cannot pass unnoticed. An Exit fault does
// not return. An outage planned at a point Hit knows no database of starts
// at the point itself: every hit of it fails while the outage lasts.
func Hit(point string) error { return HitOn(point, "") }

// HitOn is Hit for a point that acts on one database (server/database): an
// outage planned there makes that database unavailable (see Unavailable),
// and the hit itself fails as the first connection of the outage.
func HitOn(point, database string) error {
	switch state.Load() {
	case stateOff:
		return nil
	case stateUnloaded:
		if err := Check(); err != nil {
			return err
		}
		return HitOn(point, database)
	case stateBad:
		return Check()
	}
	where := strings.ToLower(database)
	if where == "" {
		where = point
	}
	mu.Lock()
	counts[point]++
	n := counts[point]
	var fire *Fault
	for i := range faults {
		if faults[i].Point == point && (faults[i].N == 0 || faults[i].N == n) {
			fire = &faults[i]
			break
		}
	}
	if fire != nil && fire.Kind == Outage {
		down[where] = now().Add(fire.For)
		fmt.Fprintf(stderr, "fault injection: %s is unavailable for %s from %s (hit %d)\n", where, fire.For, point, n)
	}
	mu.Unlock()
	if err := Unavailable(where); err != nil {
		return err
	}
	if fire == nil {
		return nil
	}
	switch fire.Kind {
	case Exit:
		fmt.Fprintf(stderr, "fault injection: killing the process at %s (hit %d)\n", point, n)
		kill()
		select {} // SIGKILL does not return
	case Hard:
		return &fleet.Error{Op: point, Err: fmt.Errorf("%w at hit %d (hard)", ErrInjected, n)}
	}
	return &fleet.Error{Op: point, Code: fire.Code, Err: fmt.Errorf("%w at hit %d", ErrInjected, n)}
}

// Unavailable returns the error of a connection to database (server/database)
// while an injected outage holds it: a transient *fleet.Error with code
// 40613, as Azure SQL returns during a failover. Drivers call it whenever
// they connect to a database. nil otherwise, at the cost of one atomic load
// when injection is off.
func Unavailable(database string) error {
	if state.Load() != stateOn {
		return nil
	}
	database = strings.ToLower(database)
	mu.Lock()
	until, ok := down[database]
	left := until.Sub(now())
	if ok && left <= 0 {
		delete(down, database)
	}
	mu.Unlock()
	if !ok || left <= 0 {
		return nil
	}
	return &fleet.Error{Op: "connect", Target: database, Code: OutageCode,
		Err: fmt.Errorf("%w: database %s is not currently available (an outage, %s left)", ErrInjected, database, left.Round(100*time.Millisecond))}
}
