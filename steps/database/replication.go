package database

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// Seeding facts of DOMAIN.md §4.
const (
	seedRateBytesPerSecond = 220e9 / 3600
	typicalSeeding         = 30 * time.Minute // databases of 0-32 GB
)

// CreateSecondary creates a geo-secondary of a database.
//
// Inputs: server, database (the primary); partnerServer, partnerDatabase
// (default: the primary's name), partnerRegion (default: the partner
// server's region, else the primary's). Observe: the partner exists and is a
// copy of the primary (linked, or since disconnected). Apply: copies the
// primary consistently and starts seeding; outputs state, lagSeconds and
// sizeBytes. Rollback: drops the partner if it is a copy of the primary.
// Estimate: the modelled seeding time of the primary's size.
type CreateSecondary struct{}

type pair struct {
	primary, secondary fleet.Location
	region             string
}

func createArgs(in steps.Inputs) (pair, error) {
	spec, err := steps.ParseSpec[stepspec.CreateSecondary](in)
	p := pair{primary: steps.LocationOf(spec.Location), region: spec.PartnerRegion,
		secondary: fleet.Location{Server: spec.PartnerServer, Database: cmp.Or(spec.PartnerDatabase, spec.Database)}}
	return p, err
}

// isCopyOf reports whether loc exists and is a copy of primary; current
// asks for a copy that misses none of primary's writes (linked, or cut off
// while primary could not be written).
func isCopyOf(ctx context.Context, cp fleet.ControlPlane, loc, primary fleet.Location, current bool) (bool, error) {
	info, ok, err := lookup(ctx, cp, loc)
	if !ok {
		return false, err
	}
	if l, err := cp.LinkTo(ctx, info.Location); err == nil {
		return l.Primary.Equal(primary), nil
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return false, err
	}
	return info.Origin.Equal(primary) && !(current && info.Stale), nil
}

// Observe implements steps.Action.
func (CreateSecondary) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	p, cp, err := steps.Prepare(env, in, createArgs)
	if err != nil {
		return false, err
	}
	return isCopyOf(ctx, cp, p.secondary, p.primary, true)
}

// Apply implements steps.Action.
func (CreateSecondary) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	p, cp, err := steps.Prepare(env, in, createArgs)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.CreateSecondaryName); err != nil {
		return nil, err
	}
	l, err := cp.CreateSecondary(ctx, p.primary, p.secondary, p.region)
	if err != nil {
		return nil, err
	}
	env.Logf("%s is a geo-secondary of %s: %s (%d bytes)", p.secondary, p.primary, l.State, l.SizeBytes)
	return steps.Outputs{"state": string(l.State), "lagSeconds": l.LagSeconds, "sizeBytes": l.SizeBytes}, nil
}

// Rollback implements steps.Action.
func (CreateSecondary) Rollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	p, cp, err := steps.Prepare(env, in, createArgs)
	if err != nil {
		return err
	}
	_, exists, err := lookup(ctx, cp, p.secondary)
	if err != nil {
		return err
	}
	if exists {
		if ok, err := isCopyOf(ctx, cp, p.secondary, p.primary, false); err != nil || !ok {
			return err // not ours to drop
		}
		return removeOrKeep(ctx, env, cp, p.secondary)
	}
	// Clears what an interrupted copy left behind.
	return cp.RemoveDatabase(ctx, p.secondary)
}

// CheckApply implements steps.LossChecker: creating a copy loses nothing.
func (CreateSecondary) CheckApply(context.Context, *steps.Env, steps.Inputs) error { return nil }

// CheckRollback implements steps.LossChecker: the copy is refused or kept
// when it holds writes made since traffic switched to it.
func (CreateSecondary) CheckRollback(ctx context.Context, env *steps.Env, in steps.Inputs) error {
	p, err := createArgs(in)
	if err != nil {
		return err
	}
	_, err = lossOf(ctx, env, p.secondary)
	return err
}

// Estimate implements steps.Action.
func (CreateSecondary) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: typicalSeeding, Basis: "typical seeding of a database under 32 GB (DOMAIN.md)"}
}

// EstimateLive implements steps.LiveEstimator: seeding time of the
// primary's current size at 220 GB/h, plus the catch-up.
func (CreateSecondary) EstimateLive(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Estimate, error) {
	p, cp, err := steps.Prepare(env, in, createArgs)
	if err != nil {
		return steps.Estimate{}, err
	}
	info, err := cp.Database(ctx, p.primary)
	if err != nil {
		return steps.Estimate{}, err
	}
	seed := time.Duration(float64(info.SizeBytes) / seedRateBytesPerSecond * float64(time.Second))
	catch := max(seed/20, 30*time.Second)
	return steps.Estimate{Duration: seed + catch,
		Basis: fmt.Sprintf("seeding %s at 220 GB/h plus catch-up (DOMAIN.md)", bytesText(info.SizeBytes))}, nil
}

// Refs implements steps.Referrer.
func (CreateSecondary) Refs(in steps.Inputs) []steps.Ref {
	p, err := createArgs(in)
	if err != nil || !steps.Literal(p.primary.Server, p.primary.Database, p.secondary.Server) {
		return steps.Anything()
	}
	return []steps.Ref{dbRef(p.primary, false), dbRef(p.secondary, true)}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", (n+1023)/1024)
}

// WaitSeeded waits until a geo-secondary's link is healthy.
//
// Inputs: server, database (the secondary); timeout (default 2h), interval
// between checks (default 100ms). Observe: the link is healthy, or the copy
// was already disconnected. Apply: polls the link, reporting progress, until
// it is healthy; outputs state, lagSeconds and percentDone. Rollback: none.
// Estimate: none of its own (the seeding is create-secondary's estimate).
type WaitSeeded struct{}

// linkRecorder is implemented by drivers that store a link's observed state.
type linkRecorder interface {
	RecordLinkState(ctx context.Context, l fleet.Link) error
}

func waitArgs(in steps.Inputs) (fleet.Location, time.Duration, time.Duration, error) {
	spec, err := steps.ParseSpec[stepspec.WaitSeeded](in)
	interval := spec.Interval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return steps.LocationOf(spec.Location), spec.Timeout, interval, err
}

// seeded reports whether loc is seeded: healthy link, or already independent.
func seeded(ctx context.Context, cp fleet.ControlPlane, loc fleet.Location) (done bool, l fleet.Link, err error) {
	info, ok, err := lookup(ctx, cp, loc)
	if !ok {
		return false, l, err
	}
	l, err = cp.LinkTo(ctx, info.Location)
	if errors.Is(err, fleet.ErrNotFound) {
		if info.Origin != (fleet.Location{}) {
			return true, fleet.Link{Primary: info.Origin, Secondary: info.Location, State: fleet.LinkHealthy, PercentDone: 100}, nil
		}
		return false, l, &fleet.Error{Op: stepspec.WaitSeededName, Target: loc.String(), Err: fmt.Errorf("%w: %s is not a geo-secondary", fleet.ErrInvalidArgument, loc),
			Hint: "wait-seeded waits for a database made by database.create-secondary"}
	}
	if err != nil {
		return false, l, err
	}
	return l.State == fleet.LinkHealthy, l, nil
}

// Observe implements steps.Action.
func (WaitSeeded) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	loc, _, _, err := waitArgs(in)
	if err != nil {
		return false, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return false, err
	}
	done, _, err := seeded(ctx, cp, loc)
	if err != nil {
		return false, nil // Apply explains
	}
	return done, nil
}

// Apply implements steps.Action.
func (WaitSeeded) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	loc, timeout, interval, err := waitArgs(in)
	if err != nil {
		return nil, err
	}
	cp, err := steps.ControlPlaneOf(env)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.WaitSeededName); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	var last fleet.LinkState
	for {
		done, l, err := seeded(ctx, cp, loc)
		if err != nil {
			return nil, err
		}
		if l.ID == "" && !done {
			return nil, &fleet.Error{Op: stepspec.WaitSeededName, Target: loc.String(), Err: fmt.Errorf("%w: %s does not exist", fleet.ErrNoDatabase, loc),
				Hint: "create the secondary first (database.create-secondary)"}
		}
		if rec, ok := env.Target.(linkRecorder); ok && l.ID != "" && l.State != last {
			if err := rec.RecordLinkState(ctx, l); err != nil {
				return nil, err
			}
		}
		if l.State != last {
			env.Logf("link %s -> %s: %s (%d%%, lag %.0fs)", l.Primary, l.Secondary, l.State, l.PercentDone, l.LagSeconds)
			last = l.State
		}
		env.Progress(int64(l.PercentDone), 100, "%")
		if done {
			return steps.Outputs{"state": string(l.State), "lagSeconds": l.LagSeconds, "percentDone": l.PercentDone}, nil
		}
		if time.Now().After(deadline) {
			return nil, &fleet.Error{Op: stepspec.WaitSeededName, Target: loc.String(),
				Err:  fmt.Errorf("the link is still %s (%d%%, lag %.0fs) after %s", l.State, l.PercentDone, l.LagSeconds, timeout),
				Hint: "raise the step's timeout, or look at the link with the fleet's tools"}
		}
		if err := steps.Sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}

// Rollback implements steps.Action.
func (WaitSeeded) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}

// Estimate implements steps.Action.
func (WaitSeeded) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Basis: "waits for the seeding create-secondary started"}
}

// IsGate implements steps.Gate: waiting changes nothing.
func (WaitSeeded) IsGate() {}

// Refs implements steps.Referrer.
func (WaitSeeded) Refs(in steps.Inputs) []steps.Ref {
	loc, _, _, err := waitArgs(in)
	if err != nil || !steps.Literal(loc.Server, loc.Database) {
		return steps.Anything()
	}
	return []steps.Ref{dbRef(loc, false)}
}

// Disconnect ends a geo-secondary's link in planned-termination mode.
//
// Inputs: server, database (the secondary); mode (planned, the default and
// only mode: the secondary is fully synchronized first). Observe: the
// database is a copy whose link is already ended. Apply: disconnects; the
// copy keeps the primary's read-only setting. Rollback: none (a new link
// means seeding again). Estimate: seconds.
type Disconnect struct{}

func disconnectArgs(in steps.Inputs) (fleet.Location, error) {
	spec, ar := steps.Parse[stepspec.Disconnect](in)
	ar.OneOf("mode", spec.Mode, "planned", "planned-termination")
	return steps.LocationOf(spec.Location), ar.Err()
}

// Observe implements steps.Action.
func (Disconnect) Observe(ctx context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	loc, cp, err := steps.Prepare(env, in, disconnectArgs)
	if err != nil {
		return false, err
	}
	info, ok, err := lookup(ctx, cp, loc)
	if !ok {
		return false, err
	}
	return info.Role != fleet.RoleSecondary && info.Origin != (fleet.Location{}), nil
}

// Apply implements steps.Action.
func (Disconnect) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	loc, cp, err := steps.Prepare(env, in, disconnectArgs)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.DisconnectName); err != nil {
		return nil, err
	}
	if err := cp.Disconnect(ctx, loc); err != nil {
		return nil, err
	}
	info, err := cp.Database(ctx, loc)
	if err != nil {
		return nil, err
	}
	env.Logf("%s is an independent copy of %s (read-only: %t)", loc, info.Origin, info.ReadOnly)
	return steps.Outputs{"readOnly": info.ReadOnly}, nil
}

// Rollback implements steps.Action.
func (Disconnect) Rollback(context.Context, *steps.Env, steps.Inputs) error {
	return steps.ErrNoRollback
}

// Estimate implements steps.Action.
func (Disconnect) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: 10 * time.Second, Basis: "planned termination of a healthy link"}
}

// Refs implements steps.Referrer.
func (Disconnect) Refs(in steps.Inputs) []steps.Ref {
	loc, err := disconnectArgs(in)
	if err != nil || !steps.Literal(loc.Server, loc.Database) {
		return steps.Anything()
	}
	return []steps.Ref{dbRef(loc, true)}
}
