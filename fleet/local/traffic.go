package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// Endpoint status values stored in traffic_manager_endpoints.status.
const (
	statusOnline  = "Online"
	statusOffline = "Offline"
)

func statusText(online bool) string {
	if online {
		return statusOnline
	}
	return statusOffline
}

// isOnline reads a stored status (also Azure's Enabled/Disabled spelling).
func isOnline(s string) bool {
	return strings.EqualFold(s, statusOnline) || strings.EqualFold(s, "Enabled")
}

// trafficState is everything routing depends on, read in one transaction.
type trafficState struct {
	profiles  []string
	endpoints map[string][]fleet.Endpoint // by lower-case profile name
	slots     map[string]fleet.Slot       // by lower-case name
	databases map[string]bool             // lower-case server/name
}

func (t *Target) readTraffic(ctx context.Context, q querier) (*trafficState, error) {
	st := &trafficState{endpoints: map[string][]fleet.Endpoint{}, slots: map[string]fleet.Slot{}, databases: map[string]bool{}}
	rows, err := q.QueryContext(ctx, `SELECT name FROM traffic_manager_profiles ORDER BY name`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		st.profiles = append(st.profiles, n)
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT profile, name, target, status, priority FROM traffic_manager_endpoints ORDER BY profile, priority, name`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e fleet.Endpoint
		var status string
		if err := rows.Scan(&e.Profile, &e.Name, &e.Target, &status, &e.Priority); err != nil {
			rows.Close()
			return nil, err
		}
		e.Online = isOnline(status)
		k := strings.ToLower(e.Profile)
		st.endpoints[k] = append(st.endpoints[k], e)
	}
	rows.Close()
	slots, err := readSlots(ctx, q, "")
	if err != nil {
		return nil, err
	}
	for _, s := range slots {
		st.slots[strings.ToLower(s.Name)] = s
	}
	rows, err = q.QueryContext(ctx, `SELECT server, name FROM databases`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var l fleet.Location
		if err := rows.Scan(&l.Server, &l.Database); err != nil {
			rows.Close()
			return nil, err
		}
		st.databases[strings.ToLower(l.String())] = true
	}
	rows.Close()
	return st, nil
}

// healthy reports whether an endpoint could serve: its slot exists and so
// does the slot's database. It says why not otherwise.
func (st *trafficState) healthy(e fleet.Endpoint) (bool, string) {
	s, ok := st.slots[strings.ToLower(e.Target)]
	if !ok {
		return false, fmt.Sprintf("app slot %s of endpoint %s does not exist", e.Target, e.Name)
	}
	if !st.databases[strings.ToLower(s.Database.String())] {
		return false, fmt.Sprintf("database %s of app slot %s does not exist", s.Database, s.Name)
	}
	return true, ""
}

// serving is the profile's serving endpoint under priority routing.
func (st *trafficState) serving(profile string) string {
	for _, e := range st.endpoints[strings.ToLower(profile)] { // sorted by priority, name
		if ok, _ := st.healthy(e); e.Online && ok {
			return e.Name
		}
	}
	return ""
}

func (st *trafficState) profile(name string) (fleet.Profile, bool) {
	for _, p := range st.profiles {
		if strings.EqualFold(p, name) {
			return fleet.Profile{Name: p, Endpoints: st.endpoints[strings.ToLower(p)], Serving: st.serving(p)}, true
		}
	}
	return fleet.Profile{}, false
}

func (st *trafficState) endpoint(profile, name string) (fleet.Endpoint, bool) {
	for _, e := range st.endpoints[strings.ToLower(profile)] {
		if strings.EqualFold(e.Name, name) {
			return e, true
		}
	}
	return fleet.Endpoint{}, false
}

// Profiles implements fleet.ControlPlane.
func (t *Target) Profiles(ctx context.Context) ([]fleet.Profile, error) {
	st, err := t.readTraffic(ctx, t.catalog)
	if err != nil {
		return nil, cpError("read traffic manager", t.dir, err)
	}
	out := make([]fleet.Profile, 0, len(st.profiles))
	for _, n := range st.profiles {
		p, _ := st.profile(n)
		out = append(out, p)
	}
	return out, nil
}

// Profile implements fleet.ControlPlane.
func (t *Target) Profile(ctx context.Context, name string) (fleet.Profile, error) {
	st, err := t.readTraffic(ctx, t.catalog)
	if err != nil {
		return fleet.Profile{}, cpError("read traffic manager", t.dir, err)
	}
	p, ok := st.profile(name)
	if !ok {
		return fleet.Profile{}, &fleet.Error{Op: "find traffic-manager profile", Target: name, Err: fmt.Errorf("%w: no profile %q", fleet.ErrNotFound, name)}
	}
	return p, nil
}

// trafficTx runs fn on a fresh read of the traffic state inside one catalog
// transaction (BEGIN IMMEDIATE: no other writer interleaves).
func (t *Target) trafficTx(ctx context.Context, op, target string, fn func(tx *sql.Tx, st *trafficState) error) error {
	err := t.cpTx(ctx, func(tx *sql.Tx) error {
		st, err := t.readTraffic(ctx, tx)
		if err != nil {
			return err
		}
		return fn(tx, st)
	})
	return cpError(op, target, err)
}

func logOp(ctx context.Context, tx *sql.Tx, op, target, detail string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target, detail) VALUES(?, ?, ?, ?)`, nowText(), op, target, detail)
	return err
}

// AddEndpoint implements fleet.ControlPlane.
func (t *Target) AddEndpoint(ctx context.Context, e fleet.Endpoint) (fleet.Endpoint, error) {
	const op = "add endpoint"
	where := e.Profile + "/" + e.Name
	for _, n := range [][2]string{{"profile", e.Profile}, {"endpoint", e.Name}, {"slot", e.Target}} {
		if err := checkName(n[0], n[1]); err != nil {
			return fleet.Endpoint{}, &fleet.Error{Op: op, Target: where, Err: err}
		}
	}
	if e.Priority < 0 {
		return fleet.Endpoint{}, &fleet.Error{Op: op, Target: where, Err: fmt.Errorf("%w: priority %d", fleet.ErrInvalidArgument, e.Priority)}
	}
	var out fleet.Endpoint
	err := t.trafficTx(ctx, op, where, func(tx *sql.Tx, st *trafficState) error {
		if _, ok := st.profile(e.Profile); !ok {
			if _, err := tx.ExecContext(ctx, `INSERT INTO traffic_manager_profiles(name, routing_method, created_at) VALUES(?, 'Priority', ?)`, e.Profile, nowText()); err != nil {
				return err
			}
		}
		if have, ok := st.endpoint(e.Profile, e.Name); ok {
			if !strings.EqualFold(have.Target, e.Target) {
				return fmt.Errorf("%w: endpoint %s already sends traffic to slot %s, not %s", fleet.ErrConflict, have.Name, have.Target, e.Target)
			}
			out = have
			return nil
		}
		if e.Priority == 0 {
			e.Priority = 1
			for _, o := range st.endpoints[strings.ToLower(e.Profile)] {
				e.Priority = max(e.Priority, o.Priority+1)
			}
		}
		for _, o := range st.endpoints[strings.ToLower(e.Profile)] {
			if o.Priority == e.Priority {
				return fmt.Errorf("%w: endpoint %s already has priority %d in profile %s", fleet.ErrConflict, o.Name, o.Priority, e.Profile)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO traffic_manager_endpoints(profile, name, target, status, priority) VALUES(?, ?, ?, ?, ?)`,
			e.Profile, e.Name, e.Target, statusText(e.Online), e.Priority); err != nil {
			return err
		}
		out = e
		return logOp(ctx, tx, op, where, fmt.Sprintf("slot %s, %s, priority %d", e.Target, statusText(e.Online), e.Priority))
	})
	return out, err
}

// SetEndpointStatus implements fleet.ControlPlane.
func (t *Target) SetEndpointStatus(ctx context.Context, profile, name string, online bool) error {
	const op = "set endpoint status"
	where := profile + "/" + name
	return t.trafficTx(ctx, op, where, func(tx *sql.Tx, st *trafficState) error {
		e, ok := st.endpoint(profile, name)
		if !ok {
			return fmt.Errorf("%w: no endpoint %s in profile %s", fleet.ErrNotFound, name, profile)
		}
		if e.Online == online {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE traffic_manager_endpoints SET status = ? WHERE profile = ? AND name = ?`, statusText(online), profile, name); err != nil {
			return err
		}
		return logOp(ctx, tx, op, where, statusText(online))
	})
}

// SwitchTraffic implements fleet.ControlPlane.
func (t *Target) SwitchTraffic(ctx context.Context, profile, from, to string) error {
	const op = "switch traffic"
	where := profile + ": " + from + " -> " + to
	if err := t.cpInit(ctx); err != nil {
		return err
	}
	// Where the database behind `to` stands before traffic reaches it: the
	// baseline a later switch back compares with (WritesSinceSwitch).
	toDB, sums, err := t.switchBaseline(ctx, profile, to)
	if err != nil {
		return cpError(op, where, err)
	}
	return t.trafficTx(ctx, op, where, func(tx *sql.Tx, st *trafficState) error {
		if _, ok := st.profile(profile); !ok {
			return fmt.Errorf("%w: no traffic-manager profile %s", fleet.ErrNotFound, profile)
		}
		te, ok := st.endpoint(profile, to)
		if !ok {
			return fmt.Errorf("%w: endpoint %s no longer exists in profile %s", fleet.ErrNotFound, to, profile)
		}
		if ok, why := st.healthy(te); !ok {
			return fmt.Errorf("%w: %s cannot serve: %s", fleet.ErrConflict, to, why)
		}
		var fe fleet.Endpoint
		if from != "" {
			if fe, ok = st.endpoint(profile, from); !ok {
				return fmt.Errorf("%w: endpoint %s no longer exists in profile %s", fleet.ErrNotFound, from, profile)
			}
		}
		// Compute the new routing before writing it.
		eps := st.endpoints[strings.ToLower(profile)]
		for i := range eps {
			switch {
			case strings.EqualFold(eps[i].Name, to):
				eps[i].Online = true
				if from != "" && fe.Priority < te.Priority {
					eps[i].Priority = fe.Priority
				}
			case from != "" && strings.EqualFold(eps[i].Name, from):
				eps[i].Online = false
				if fe.Priority < te.Priority {
					eps[i].Priority = te.Priority
				}
			}
		}
		sort.SliceStable(eps, func(i, j int) bool {
			if eps[i].Priority != eps[j].Priority {
				return eps[i].Priority < eps[j].Priority
			}
			return strings.ToLower(eps[i].Name) < strings.ToLower(eps[j].Name)
		})
		if s := st.serving(profile); !strings.EqualFold(s, to) {
			e, _ := st.endpoint(profile, s)
			return fmt.Errorf("%w: endpoint %s (priority %d, online) would still serve before %s", fleet.ErrConflict, s, e.Priority, to)
		}
		changed := false
		for _, e := range eps {
			if strings.EqualFold(e.Name, to) || (from != "" && strings.EqualFold(e.Name, from)) {
				res, err := tx.ExecContext(ctx, `UPDATE traffic_manager_endpoints SET status = ?, priority = ? WHERE profile = ? AND name = ? AND (status <> ? OR priority <> ?)`,
					statusText(e.Online), e.Priority, profile, e.Name, statusText(e.Online), e.Priority)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n > 0 {
					changed = true
				}
			}
		}
		if !changed {
			return nil
		}
		if s := st.slots[strings.ToLower(te.Target)]; sums != nil && s.Database.Equal(toDB) {
			if err := recordBaseline(ctx, tx, toDB, profile, to, sums); err != nil {
				return err
			}
		}
		return logOp(ctx, tx, op, profile, from+" -> "+to)
	})
}

// RemoveEndpoint implements fleet.ControlPlane.
func (t *Target) RemoveEndpoint(ctx context.Context, profile, name string) error {
	const op = "remove endpoint"
	where := profile + "/" + name
	return t.trafficTx(ctx, op, where, func(tx *sql.Tx, st *trafficState) error {
		if _, ok := st.endpoint(profile, name); !ok {
			return nil
		}
		if strings.EqualFold(st.serving(profile), name) {
			return fmt.Errorf("%w: endpoint %s serves the traffic of profile %s", fleet.ErrConflict, name, profile)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM traffic_manager_endpoints WHERE profile = ? AND name = ?`, profile, name); err != nil {
			return err
		}
		return logOp(ctx, tx, op, where, "")
	})
}

// ServingEndpoint returns the endpoint that serves a profile's traffic, with
// its slot; ErrNotFound when nothing serves.
func (t *Target) ServingEndpoint(ctx context.Context, profile string) (fleet.Endpoint, fleet.Slot, error) {
	st, err := t.readTraffic(ctx, t.catalog)
	if err != nil {
		return fleet.Endpoint{}, fleet.Slot{}, cpError("read traffic manager", t.dir, err)
	}
	p, ok := st.profile(profile)
	if !ok {
		return fleet.Endpoint{}, fleet.Slot{}, &fleet.Error{Op: "route", Target: profile, Err: fmt.Errorf("%w: no traffic-manager profile %q", fleet.ErrNotFound, profile)}
	}
	if p.Serving == "" {
		return fleet.Endpoint{}, fleet.Slot{}, &fleet.Error{Op: "route", Target: profile,
			Err: errors.New("no endpoint serves: none is online with an existing slot and database")}
	}
	e, _ := st.endpoint(profile, p.Serving)
	return e, st.slots[strings.ToLower(e.Target)], nil
}

// switchBaseline sums the database behind endpoint `to` of a profile; nil
// sums when the endpoint, its slot or its database is missing (the switch
// itself then explains).
func (t *Target) switchBaseline(ctx context.Context, profile, to string) (fleet.Location, map[string]tableSum, error) {
	st, err := t.readTraffic(ctx, t.catalog)
	if err != nil {
		return fleet.Location{}, nil, err
	}
	e, ok := st.endpoint(profile, to)
	if !ok {
		return fleet.Location{}, nil, nil
	}
	s, ok := st.slots[strings.ToLower(e.Target)]
	if !ok || !st.databases[strings.ToLower(s.Database.String())] {
		return fleet.Location{}, nil, nil
	}
	sums, err := t.contents(ctx, s.Database)
	return s.Database, sums, err
}
