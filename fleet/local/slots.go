package local

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

func readSlots(ctx context.Context, q querier, name string) ([]fleet.Slot, error) {
	query := `SELECT name, server, database, version, state FROM app_slots`
	var args []any
	if name != "" {
		query += ` WHERE name = ?`
		args = append(args, name)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Slot
	for rows.Next() {
		var s fleet.Slot
		if err := rows.Scan(&s.Name, &s.Database.Server, &s.Database.Database, &s.Version, &s.State); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Slots implements fleet.ControlPlane.
func (t *Target) Slots(ctx context.Context) ([]fleet.Slot, error) {
	s, err := readSlots(ctx, t.catalog, "")
	return s, cpError("read app slots", t.dir, err)
}

// Slot implements fleet.ControlPlane.
func (t *Target) Slot(ctx context.Context, name string) (fleet.Slot, error) {
	s, err := readSlots(ctx, t.catalog, name)
	if err != nil {
		return fleet.Slot{}, cpError("read app slots", t.dir, err)
	}
	if len(s) == 0 {
		return fleet.Slot{}, &fleet.Error{Op: "find app slot", Target: name, Err: fmt.Errorf("%w: no app slot %q", fleet.ErrNotFound, name)}
	}
	return s[0], nil
}

// DeploySlot implements fleet.ControlPlane.
func (t *Target) DeploySlot(ctx context.Context, s fleet.Slot) error {
	const op = "deploy app"
	if err := checkName("slot", s.Name); err != nil {
		return &fleet.Error{Op: op, Target: s.Name, Err: err}
	}
	if s.Version == "" {
		return &fleet.Error{Op: op, Target: s.Name, Err: fmt.Errorf("%w: no version to deploy", fleet.ErrInvalidArgument)}
	}
	c, _, err := t.resolve(ctx, s.Database)
	if err != nil {
		return &fleet.Error{Op: op, Target: s.Name, Err: fmt.Errorf("the app's database: %w", err),
			Hint: "the database an app points at must exist; create it first"}
	}
	return cpError(op, s.Name, t.cpTx(ctx, func(tx *sql.Tx) error {
		have, err := readSlots(ctx, tx, s.Name)
		if err != nil {
			return err
		}
		if len(have) == 1 && have[0].Version == s.Version && have[0].Database.Equal(c) && have[0].State == "running" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO app_slots(name, server, database, version, state, created_at) VALUES(?, ?, ?, ?, 'running', ?)
			ON CONFLICT(name) DO UPDATE SET server = excluded.server, database = excluded.database, version = excluded.version, state = 'running'`,
			s.Name, c.Server, c.Database, s.Version, nowText()); err != nil {
			return err
		}
		return logOp(ctx, tx, op, s.Name, fmt.Sprintf("version %s on %s", s.Version, c))
	}))
}

// RemoveSlot implements fleet.ControlPlane.
func (t *Target) RemoveSlot(ctx context.Context, name string) error {
	const op = "remove app"
	return t.trafficTx(ctx, op, name, func(tx *sql.Tx, st *trafficState) error {
		if _, ok := st.slots[strings.ToLower(name)]; !ok {
			return nil
		}
		for _, p := range st.profiles {
			if s := st.serving(p); s != "" {
				if e, _ := st.endpoint(p, s); strings.EqualFold(e.Target, name) {
					return fmt.Errorf("%w: app slot %s serves the traffic of profile %s (endpoint %s)", fleet.ErrConflict, name, p, s)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM app_slots WHERE name = ?`, name); err != nil {
			return err
		}
		return logOp(ctx, tx, op, name, "")
	})
}
