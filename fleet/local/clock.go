package local

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// The local fleet's clock. Change windows are read and waited for on it.
// It runs with real time until something waits on it: SleepUntil sleeps the
// scaled time (--time-scale) and then moves the clock to the moment waited
// for, so waiting for a weekend window takes seconds. SetClock sets it (and
// can freeze it, for tests and demos that need a known time of day).
const (
	metaClockAt     = "clock_at"       // the fleet's time at clock_set_real (RFC 3339)
	metaClockSetAt  = "clock_set_real" // real time (Unix ns) when clock_at was set
	metaClockFrozen = "clock_frozen"   // "1": the clock stays at clock_at
)

// Now implements fleet.Clock.
func (t *Target) Now(ctx context.Context) (time.Time, error) {
	var at, setAt, frozen sql.NullString
	err := t.catalog.QueryRowContext(ctx, `SELECT
		(SELECT value FROM fleet_meta WHERE key = ?), (SELECT value FROM fleet_meta WHERE key = ?), (SELECT value FROM fleet_meta WHERE key = ?)`,
		metaClockAt, metaClockSetAt, metaClockFrozen).Scan(&at, &setAt, &frozen)
	if err != nil {
		return time.Time{}, cpError("read clock", t.dir, err)
	}
	real := time.Now()
	if !at.Valid {
		return real.UTC(), nil
	}
	base, err := time.Parse(time.RFC3339Nano, at.String)
	if err != nil {
		return time.Time{}, &fleet.Error{Op: "read clock", Target: t.dir, Err: err}
	}
	if frozen.String == "1" {
		return base, nil
	}
	ns, _ := strconv.ParseInt(setAt.String, 10, 64)
	return base.Add(real.Sub(time.Unix(0, ns))), nil
}

// SetClock sets the fleet's clock to at; frozen keeps it there except for
// the jumps of SleepUntil.
func (t *Target) SetClock(ctx context.Context, at time.Time, frozen bool) error {
	f := "0"
	if frozen {
		f = "1"
	}
	err := t.catalogTx(ctx, func(tx *sql.Tx) error {
		for _, kv := range [][2]string{{metaClockAt, at.UTC().Format(time.RFC3339Nano)}, {metaClockSetAt, strconv.FormatInt(time.Now().UnixNano(), 10)}, {metaClockFrozen, f}} {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO fleet_meta(key, value) VALUES(?, ?)`, kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	return cpError("set clock", t.dir, err)
}

// SleepUntil implements fleet.Clock: it sleeps the scaled time to until,
// then moves the clock there (never back, when another waiter moved it
// further meanwhile).
func (t *Target) SleepUntil(ctx context.Context, until time.Time) error {
	now, err := t.Now(ctx)
	if err != nil {
		return err
	}
	d := until.Sub(now)
	if d <= 0 {
		return nil
	}
	if s := t.TimeScale(); s > 0 {
		timer := time.NewTimer(time.Duration(float64(d) * s))
		select {
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		case <-timer.C:
		}
	}
	var frozen sql.NullString
	if err := t.catalog.QueryRowContext(ctx, `SELECT value FROM fleet_meta WHERE key = ?`, metaClockFrozen).Scan(&frozen); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return cpError("read clock", t.dir, err)
	}
	if now, err = t.Now(ctx); err != nil || !now.Before(until) {
		return err
	}
	return t.SetClock(ctx, until, frozen.String == "1")
}
