package local

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
)

var (
	_ fleet.InstanceManager = (*Target)(nil)
	_ fleet.Clock           = (*Target)(nil)
)

// Draws of modelled operation durations.
const (
	// EnvInstanceSeed seeds the durations every local fleet of this process
	// draws for instance operations (default 1).
	EnvInstanceSeed = "FLEETPLAN_INSTANCE_SEED"
	// OptionInstanceSeed is the same setting as a target option.
	OptionInstanceSeed = "instanceSeed"
)

// FaultPhase is the fault-injection point an operation hits when it enters
// a phase: "instance.phase.seeding". A hard or exit fault there fails the
// operation in that phase (or kills the process polling it).
const FaultPhase = "instance.phase."

// instanceState is the Target's managed-instance state.
type instanceState struct {
	once    sync.Once
	initErr error
	seed    uint64
	seedSet bool
}

// instanceDDL holds managed instances, their databases and pools,
// long-running transactions, and operations with their modelled timeline.
const instanceDDL = `
CREATE TABLE IF NOT EXISTS mi_instances(
  name               TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  tier               TEXT NOT NULL,
  vcores             INTEGER NOT NULL,
  storage_gb         INTEGER NOT NULL,
  hardware           TEXT NOT NULL DEFAULT 'Gen5',
  zone_redundant     INTEGER NOT NULL DEFAULT 0,
  license_type       TEXT NOT NULL DEFAULT 'LicenseIncluded',
  maintenance_window TEXT NOT NULL DEFAULT 'Default',
  pool               TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
  subnet             TEXT NOT NULL DEFAULT 'subnet-1' COLLATE NOCASE,
  labels             TEXT NOT NULL DEFAULT '{}',
  created_at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mi_databases(
  instance TEXT NOT NULL COLLATE NOCASE,
  name     TEXT NOT NULL COLLATE NOCASE,
  size_gb  REAL NOT NULL,
  PRIMARY KEY(instance, name)
);
CREATE TABLE IF NOT EXISTS mi_pools(
  name     TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  subnet   TEXT NOT NULL COLLATE NOCASE,
  tier     TEXT NOT NULL DEFAULT 'GeneralPurpose',
  hardware TEXT NOT NULL DEFAULT 'Gen5',
  vcores   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mi_transactions(
  instance   TEXT NOT NULL COLLATE NOCASE,
  name       TEXT NOT NULL,
  started_at TEXT NOT NULL,
  PRIMARY KEY(instance, name)
);
CREATE TABLE IF NOT EXISTS mi_operations(
  id                TEXT NOT NULL PRIMARY KEY,
  client_request_id TEXT NOT NULL UNIQUE,
  seq               INTEGER NOT NULL,
  instance          TEXT NOT NULL COLLATE NOCASE,
  type              TEXT NOT NULL,
  settings          TEXT NOT NULL,
  phases            TEXT NOT NULL,
  durations         TEXT NOT NULL,
  scale             REAL NOT NULL,
  started_ns        INTEGER NOT NULL,
  state             TEXT NOT NULL DEFAULT 'InProgress',
  phase_seen        INTEGER NOT NULL DEFAULT -1,
  stop_phase        INTEGER NOT NULL DEFAULT -1,
  error             TEXT NOT NULL DEFAULT '',
  cancel_requested  INTEGER NOT NULL DEFAULT 0,
  ended_ns          INTEGER NOT NULL DEFAULT 0,
  failover_from_ns  INTEGER NOT NULL DEFAULT 0,
  failover_to_ns    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mi_operations_instance ON mi_operations(instance, state);
`

// miInit creates the managed-instance tables once per Target.
func (t *Target) miInit(ctx context.Context) error {
	t.mi.once.Do(func() {
		if _, err := t.catalog.ExecContext(ctx, instanceDDL); err != nil {
			t.mi.initErr = &fleet.Error{Op: "prepare managed instances", Target: t.dir, Err: err}
		}
	})
	return t.mi.initErr
}

// instanceSeed is the seed of duration draws: the target option, else
// FLEETPLAN_INSTANCE_SEED, else 1.
func (t *Target) instanceSeed() uint64 {
	if t.mi.seedSet {
		return t.mi.seed
	}
	if v, err := strconv.ParseUint(os.Getenv(EnvInstanceSeed), 10, 64); err == nil {
		return v
	}
	return 1
}

// SetInstanceSeed overrides the seed of duration draws for this Target.
func (t *Target) SetInstanceSeed(seed uint64) { t.mi.seed, t.mi.seedSet = seed, true }

// AddInstancePool registers an instance pool (idempotent for the same name).
func (t *Target) AddInstancePool(ctx context.Context, p fleet.InstancePool) error {
	if err := t.miInit(ctx); err != nil {
		return err
	}
	if err := checkName("pool", p.Name); err != nil {
		return &fleet.Error{Op: "add instance pool", Target: p.Name, Err: err}
	}
	_, err := t.catalog.ExecContext(ctx, `INSERT INTO mi_pools(name, subnet, tier, hardware, vcores) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(name) DO NOTHING`, p.Name, or(p.Subnet, "subnet-"+p.Name), or(p.Tier, estimate.GeneralPurpose), or(p.Hardware, "Gen5"), p.VCores)
	return cpError("add instance pool", p.Name, err)
}

// AddManagedInstance registers an instance as it stands (no operation), with
// its databases: each gets a real (small) database file on the server named
// after the instance, and its modelled size in the catalog.
func (t *Target) AddManagedInstance(ctx context.Context, mi fleet.ManagedInstance) error {
	if err := t.miInit(ctx); err != nil {
		return err
	}
	if err := checkName("instance", mi.Name); err != nil {
		return &fleet.Error{Op: "add managed instance", Target: mi.Name, Err: err}
	}
	labels, _ := json.Marshal(orMap(mi.Labels))
	err := t.catalogTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mi_instances(name, tier, vcores, storage_gb, hardware, zone_redundant, license_type,
			maintenance_window, pool, subnet, labels, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING`,
			mi.Name, or(mi.Tier, estimate.GeneralPurpose), mi.VCores, mi.StorageGB, or(mi.Hardware, "Gen5"), mi.ZoneRedundant,
			or(mi.LicenseType, "LicenseIncluded"), or(mi.MaintenanceWindow, "Default"), mi.Pool, or(mi.Subnet, "subnet-1"), string(labels), nowText())
		if err != nil {
			return err
		}
		for _, db := range mi.Databases {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mi_databases(instance, name, size_gb) VALUES(?, ?, ?)
				ON CONFLICT(instance, name) DO UPDATE SET size_gb = excluded.size_gb`, mi.Name, db.Name, db.SizeGB); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return cpError("add managed instance", mi.Name, err)
	}
	for _, db := range mi.Databases {
		if err := t.CreateDatabase(ctx, fleet.Location{Server: mi.Name, Database: db.Name}); err != nil {
			return err
		}
	}
	return nil
}

// StartLongTransaction records a long-running transaction (an import, an
// index rebuild) on an instance; EndLongTransaction ends it.
func (t *Target) StartLongTransaction(ctx context.Context, instance, name string) error {
	if err := t.miInit(ctx); err != nil {
		return err
	}
	_, err := t.catalog.ExecContext(ctx, `INSERT OR IGNORE INTO mi_transactions(instance, name, started_at) VALUES(?, ?, ?)`, instance, name, nowText())
	return cpError("start transaction", instance, err)
}

// EndLongTransaction ends a transaction StartLongTransaction recorded.
func (t *Target) EndLongTransaction(ctx context.Context, instance, name string) error {
	if err := t.miInit(ctx); err != nil {
		return err
	}
	_, err := t.catalog.ExecContext(ctx, `DELETE FROM mi_transactions WHERE instance = ? AND name = ?`, instance, name)
	return cpError("end transaction", instance, err)
}

// ManagedInstances implements fleet.InstanceManager. Operations in flight
// are brought up to date first, so a finished one shows its effect.
func (t *Target) ManagedInstances(ctx context.Context) ([]fleet.ManagedInstance, error) {
	if err := t.advanceAll(ctx); err != nil {
		return nil, err
	}
	rows, err := t.catalog.QueryContext(ctx, `SELECT name, tier, vcores, storage_gb, hardware, zone_redundant, license_type,
		maintenance_window, pool, subnet, labels,
		COALESCE((SELECT id FROM mi_operations o WHERE o.instance = i.name AND o.state = 'InProgress'), '')
		FROM mi_instances i ORDER BY name`)
	if err != nil {
		return nil, cpError("read managed instances", t.dir, err)
	}
	var out []fleet.ManagedInstance
	for rows.Next() {
		var mi fleet.ManagedInstance
		var labels string
		if err := rows.Scan(&mi.Name, &mi.Tier, &mi.VCores, &mi.StorageGB, &mi.Hardware, &mi.ZoneRedundant, &mi.LicenseType,
			&mi.MaintenanceWindow, &mi.Pool, &mi.Subnet, &labels, &mi.Operation); err != nil {
			rows.Close()
			return nil, cpError("read managed instances", t.dir, err)
		}
		_ = json.Unmarshal([]byte(labels), &mi.Labels)
		out = append(out, mi)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, cpError("read managed instances", t.dir, err)
	}
	for i := range out {
		if out[i].Databases, err = t.instanceDatabases(ctx, t.catalog, out[i].Name); err != nil {
			return nil, err
		}
		if err := t.queryStrings(ctx, &out[i].LongRunning, `SELECT name FROM mi_transactions WHERE instance = ? ORDER BY name`, out[i].Name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *Target) instanceDatabases(ctx context.Context, q querier, instance string) ([]fleet.InstanceDatabase, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, size_gb FROM mi_databases WHERE instance = ? ORDER BY name`, instance)
	if err != nil {
		return nil, cpError("read instance databases", instance, err)
	}
	defer rows.Close()
	var out []fleet.InstanceDatabase
	for rows.Next() {
		var d fleet.InstanceDatabase
		if err := rows.Scan(&d.Name, &d.SizeGB); err != nil {
			return nil, cpError("read instance databases", instance, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t *Target) queryStrings(ctx context.Context, dst *[]string, query string, args ...any) error {
	rows, err := t.catalog.QueryContext(ctx, query, args...)
	if err != nil {
		return cpError("read catalog", t.dir, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return cpError("read catalog", t.dir, err)
		}
		*dst = append(*dst, s)
	}
	return rows.Err()
}

// InstancePools implements fleet.InstanceManager.
func (t *Target) InstancePools(ctx context.Context) ([]fleet.InstancePool, error) {
	if err := t.advanceAll(ctx); err != nil {
		return nil, err
	}
	rows, err := t.catalog.QueryContext(ctx, `SELECT name, subnet, tier, hardware, vcores FROM mi_pools ORDER BY name`)
	if err != nil {
		return nil, cpError("read instance pools", t.dir, err)
	}
	var out []fleet.InstancePool
	for rows.Next() {
		var p fleet.InstancePool
		if err := rows.Scan(&p.Name, &p.Subnet, &p.Tier, &p.Hardware, &p.VCores); err != nil {
			rows.Close()
			return nil, cpError("read instance pools", t.dir, err)
		}
		out = append(out, p)
	}
	rows.Close()
	for i := range out {
		if err := t.queryStrings(ctx, &out[i].Instances, `SELECT name FROM mi_instances WHERE pool = ? ORDER BY name`, out[i].Name); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// opRow is one mi_operations row.
type opRow struct {
	id, clientID, instance, typ, state, errText string
	seq                                         int64
	settings                                    fleet.InstanceSettings
	phases                                      []string
	durations                                   []time.Duration
	scale                                       float64
	startedNs, endedNs                          int64
	phaseSeen, stopPhase                        int
	cancel                                      bool
}

const opColumns = `id, client_request_id, seq, instance, type, settings, phases, durations, scale, started_ns, state, phase_seen,
	stop_phase, error, cancel_requested, ended_ns`

func scanOp(sc interface{ Scan(...any) error }) (*opRow, error) {
	var o opRow
	var settings, phases, durations string
	err := sc.Scan(&o.id, &o.clientID, &o.seq, &o.instance, &o.typ, &settings, &phases, &durations, &o.scale, &o.startedNs,
		&o.state, &o.phaseSeen, &o.stopPhase, &o.errText, &o.cancel, &o.endedNs)
	if err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(settings), &o.settings)
	_ = json.Unmarshal([]byte(phases), &o.phases)
	var ns []int64
	_ = json.Unmarshal([]byte(durations), &ns)
	for _, n := range ns {
		o.durations = append(o.durations, time.Duration(n))
	}
	return &o, nil
}

// total is the operation's modelled length.
func (o *opRow) total() time.Duration {
	var sum time.Duration
	for _, d := range o.durations {
		sum += d
	}
	return sum
}

// realOffset is how long (real time) after the start the modelled offset d falls.
func (o *opRow) realOffset(d time.Duration) time.Duration { return time.Duration(float64(d) * o.scale) }

// at returns the phase index the operation is in at real time now, and
// whether every phase is over.
func (o *opRow) at(now time.Time) (phase int, elapsed time.Duration, done bool) {
	elapsed = o.total()
	if o.scale > 0 {
		elapsed = time.Duration(float64(now.UnixNano()-o.startedNs) / o.scale)
	}
	var cum time.Duration
	for i, d := range o.durations {
		cum += d
		if elapsed < cum {
			return i, max(elapsed, 0), false
		}
	}
	return len(o.durations) - 1, o.total(), true
}

// view is the operation as of now.
func (o *opRow) view(now time.Time) fleet.InstanceOperation {
	op := fleet.InstanceOperation{ID: o.id, Instance: o.instance, Type: o.typ, State: fleet.InstanceOpState(o.state), Phases: o.phases,
		Error: o.errText, CancelRequested: o.cancel, Started: time.Unix(0, o.startedNs).UTC()}
	phase, elapsed, _ := o.at(now)
	if op.State.Ended() {
		phase = o.stopPhase
		elapsed = o.total()
		if o.scale > 0 {
			elapsed = time.Duration(float64(o.endedNs-o.startedNs) / o.scale)
		}
	}
	if phase >= 0 && phase < len(o.phases) {
		op.PhaseIndex, op.Phase = phase, o.phases[phase]
	}
	op.Elapsed = elapsed
	if total := o.total(); total > 0 {
		op.PercentDone = int(min(100, 100*float64(elapsed)/float64(total)))
	}
	if op.State == fleet.OpSucceeded {
		op.PercentDone = 100
	}
	return op
}

// BeginInstanceOperation implements fleet.InstanceManager: it draws the
// operation's phase durations from the DOMAIN.md model (seeded) and records
// its timeline; nothing changes on the instance until the last phase ends.
func (t *Target) BeginInstanceOperation(ctx context.Context, req fleet.InstanceRequest) (fleet.InstanceOperation, error) {
	op := "begin " + req.Type
	if err := t.miInit(ctx); err != nil {
		return fleet.InstanceOperation{}, err
	}
	if req.ClientRequestID == "" {
		return fleet.InstanceOperation{}, &fleet.Error{Op: op, Target: req.Instance, Err: fmt.Errorf("%w: no client request id", fleet.ErrInvalidArgument)}
	}
	if err := t.advanceAll(ctx); err != nil {
		return fleet.InstanceOperation{}, err
	}
	var out fleet.InstanceOperation
	err := t.catalogTx(ctx, func(tx *sql.Tx) error {
		if o, err := scanOp(tx.QueryRowContext(ctx, `SELECT `+opColumns+` FROM mi_operations WHERE client_request_id = ?`, req.ClientRequestID)); err == nil {
			out = o.view(time.Now()) // the same request again: the same operation
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var busy string
		err := tx.QueryRowContext(ctx, `SELECT id FROM mi_operations WHERE instance = ? AND state = 'InProgress'`, req.Instance).Scan(&busy)
		if err == nil {
			return &fleet.Error{Op: op, Target: req.Instance, Err: fmt.Errorf("%w (operation %s)", fleet.ErrOperationInFlight, busy),
				Hint: "wait for it to end, or cancel it"}
		}
		model, err := t.modelFor(ctx, tx, req)
		if err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM mi_operations`).Scan(&seq); err != nil {
			return err
		}
		h := fnv.New64a()
		h.Write([]byte(strings.ToLower(req.Instance)))
		draws := model.Draw(mrand.New(mrand.NewPCG(t.instanceSeed(), uint64(seq)^h.Sum64())))
		o := &opRow{id: newOpID(), clientID: req.ClientRequestID, seq: seq, instance: req.Instance, typ: req.Type, settings: req.Settings,
			phases: model.Phases, durations: draws, scale: t.TimeScale(), startedNs: time.Now().UnixNano(), state: string(fleet.OpInProgress),
			phaseSeen: -1, stopPhase: -1}
		var foFrom, foTo int64
		var cum time.Duration
		for i, name := range o.phases {
			if name == estimate.PhaseFailover {
				foFrom = o.startedNs + int64(o.realOffset(cum))
				foTo = o.startedNs + int64(o.realOffset(cum+o.durations[i]))
			}
			cum += o.durations[i]
		}
		settings, _ := json.Marshal(o.settings)
		phases, _ := json.Marshal(o.phases)
		ns := make([]int64, len(draws))
		for i, d := range draws {
			ns[i] = int64(d)
		}
		durations, _ := json.Marshal(ns)
		if _, err := tx.ExecContext(ctx, `INSERT INTO mi_operations(id, client_request_id, seq, instance, type, settings, phases, durations,
			scale, started_ns, failover_from_ns, failover_to_ns) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.id, o.clientID, seq, o.instance, o.typ, string(settings), string(phases), string(durations), o.scale, o.startedNs, foFrom, foTo); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target, detail) VALUES(?, ?, ?, ?)`,
			nowText(), "instance "+req.Type+" started", req.Instance, o.id); err != nil {
			return err
		}
		out = o.view(time.Now())
		return nil
	})
	if err != nil {
		return fleet.InstanceOperation{}, cpError(op, req.Instance, err)
	}
	return out, nil
}

// modelFor checks a request against the catalog and builds its model.
func (t *Target) modelFor(ctx context.Context, tx *sql.Tx, req fleet.InstanceRequest) (*estimate.Model, error) {
	op := "begin " + req.Type
	instances, pools, err := t.snapshot(ctx, tx)
	if err != nil {
		return nil, err
	}
	var cur *fleet.ManagedInstance
	for i := range instances {
		if strings.EqualFold(instances[i].Name, req.Instance) {
			cur = &instances[i]
		}
	}
	poolOf := func(name string) *fleet.InstancePool {
		for i := range pools {
			if strings.EqualFold(pools[i].Name, name) {
				return &pools[i]
			}
		}
		return nil
	}
	invalid := func(format string, args ...any) error {
		return &fleet.Error{Op: op, Target: req.Instance, Err: fmt.Errorf("%w: "+format, append([]any{fleet.ErrInvalidArgument}, args...)...)}
	}
	switch {
	case req.Type == fleet.InstanceCreate && cur != nil:
		return nil, &fleet.Error{Op: op, Target: req.Instance, Err: fmt.Errorf("%w: the instance exists", fleet.ErrConflict)}
	case req.Type != fleet.InstanceCreate && cur == nil:
		return nil, &fleet.Error{Op: op, Target: req.Instance, Err: fmt.Errorf("%w: no managed instance %q", fleet.ErrNotFound, req.Instance)}
	case req.Type == fleet.InstanceCreate && (req.Settings.VCores == 0 || req.Settings.StorageGB == 0):
		return nil, invalid("a new instance needs vCores and storageGB")
	case (req.Type == fleet.InstanceMoveIntoPool || req.Settings.Pool != "") && req.Type != fleet.InstanceMoveOutOfPool && poolOf(req.Settings.Pool) == nil:
		return nil, &fleet.Error{Op: op, Target: req.Instance, Err: fmt.Errorf("%w: no instance pool %q", fleet.ErrNotFound, req.Settings.Pool)}
	case req.Type == fleet.InstanceMoveOutOfPool && cur.Pool == "":
		return nil, invalid("the instance is in no pool")
	}
	if err := checkName("instance", req.Instance); err != nil {
		return nil, invalid("%v", err)
	}
	typ := estimate.Type(req.Type)
	m, err := estimate.NewModel(estimate.RequestFor(typ, cur, req.Settings, estimate.LastInSubnet(req.Instance, instances, pools)))
	if err != nil {
		return nil, invalid("%v", err)
	}
	return m, nil
}

// snapshot reads instances (with databases) and pools inside tx.
func (t *Target) snapshot(ctx context.Context, tx *sql.Tx) ([]fleet.ManagedInstance, []fleet.InstancePool, error) {
	var instances []fleet.ManagedInstance
	rows, err := tx.QueryContext(ctx, `SELECT name, tier, vcores, storage_gb, hardware, zone_redundant, license_type, maintenance_window, pool, subnet FROM mi_instances`)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var mi fleet.ManagedInstance
		if err := rows.Scan(&mi.Name, &mi.Tier, &mi.VCores, &mi.StorageGB, &mi.Hardware, &mi.ZoneRedundant, &mi.LicenseType, &mi.MaintenanceWindow, &mi.Pool, &mi.Subnet); err != nil {
			rows.Close()
			return nil, nil, err
		}
		instances = append(instances, mi)
	}
	rows.Close()
	for i := range instances {
		if instances[i].Databases, err = t.instanceDatabases(ctx, tx, instances[i].Name); err != nil {
			return nil, nil, err
		}
	}
	var pools []fleet.InstancePool
	rows, err = tx.QueryContext(ctx, `SELECT name, subnet FROM mi_pools`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p fleet.InstancePool
		if err := rows.Scan(&p.Name, &p.Subnet); err != nil {
			return nil, nil, err
		}
		pools = append(pools, p)
	}
	return instances, pools, rows.Err()
}

func newOpID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "op-" + hex.EncodeToString(b)
}

// InstanceOperation implements fleet.InstanceManager.
func (t *Target) InstanceOperation(ctx context.Context, id string) (fleet.InstanceOperation, error) {
	if err := t.miInit(ctx); err != nil {
		return fleet.InstanceOperation{}, err
	}
	var out fleet.InstanceOperation
	err := t.catalogTx(ctx, func(tx *sql.Tx) error {
		o, err := scanOp(tx.QueryRowContext(ctx, `SELECT `+opColumns+` FROM mi_operations WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return &fleet.Error{Op: "read operation", Target: id, Err: fmt.Errorf("%w: no instance operation %s", fleet.ErrNotFound, id)}
		}
		if err != nil {
			return err
		}
		now := time.Now()
		if err := t.advance(ctx, tx, o, now); err != nil {
			return err
		}
		out = o.view(now)
		return nil
	})
	return out, cpError("read operation", id, err)
}

// FindInstanceOperation implements fleet.InstanceManager.
func (t *Target) FindInstanceOperation(ctx context.Context, clientRequestID string) (fleet.InstanceOperation, bool, error) {
	if err := t.miInit(ctx); err != nil {
		return fleet.InstanceOperation{}, false, err
	}
	var id string
	err := t.catalog.QueryRowContext(ctx, `SELECT id FROM mi_operations WHERE client_request_id = ?`, clientRequestID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.InstanceOperation{}, false, nil
	}
	if err != nil {
		return fleet.InstanceOperation{}, false, cpError("read operation", clientRequestID, err)
	}
	op, err := t.InstanceOperation(ctx, id)
	return op, err == nil, err
}

// advanceAll brings every operation in flight up to date.
func (t *Target) advanceAll(ctx context.Context) error {
	if err := t.miInit(ctx); err != nil {
		return err
	}
	var ids []string
	if err := t.queryStrings(ctx, &ids, `SELECT id FROM mi_operations WHERE state = 'InProgress' ORDER BY seq`); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := t.InstanceOperation(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// advance moves o to where it is at now: each phase it entered since it was
// last seen hits its fault point (a hard fault fails the operation there,
// leaving the instance as it was), and once the last phase ends the
// instance takes the new settings, in the same transaction.
func (t *Target) advance(ctx context.Context, tx *sql.Tx, o *opRow, now time.Time) error {
	if fleet.InstanceOpState(o.state).Ended() {
		return nil
	}
	phase, _, done := o.at(now)
	for i := o.phaseSeen + 1; i <= phase; i++ {
		if err := faults.HitOn(FaultPhase+o.phases[i], o.instance); err != nil {
			if fleet.IsTransient(err) {
				return err // the poll fails; the operation goes on
			}
			return t.endOp(ctx, tx, o, fleet.OpFailed, i, fmt.Sprintf("phase %s failed: %v", o.phases[i], err), now)
		}
		o.phaseSeen = i
	}
	if !done {
		_, err := tx.ExecContext(ctx, `UPDATE mi_operations SET phase_seen = ? WHERE id = ?`, o.phaseSeen, o.id)
		return err
	}
	if err := t.applySettings(ctx, tx, o); err != nil {
		return err
	}
	end := time.Unix(0, o.startedNs+int64(o.realOffset(o.total())))
	return t.endOp(ctx, tx, o, fleet.OpSucceeded, len(o.phases)-1, "", end)
}

// endOp records how an operation ended.
func (t *Target) endOp(ctx context.Context, tx *sql.Tx, o *opRow, state fleet.InstanceOpState, phase int, why string, at time.Time) error {
	o.state, o.stopPhase, o.errText, o.endedNs = string(state), phase, why, at.UnixNano()
	if _, err := tx.ExecContext(ctx, `UPDATE mi_operations SET state = ?, stop_phase = ?, phase_seen = ?, error = ?, ended_ns = ?,
		failover_to_ns = MIN(failover_to_ns, ?) WHERE id = ?`, o.state, phase, max(o.phaseSeen, phase), why, o.endedNs, o.endedNs, o.id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO operation_log(at, operation, target, detail) VALUES(?, ?, ?, ?)`,
		nowText(), "instance "+o.typ+" "+strings.ToLower(string(state)), o.instance, strings.TrimSpace(o.id+" "+why))
	return err
}

// applySettings gives the instance what a succeeded operation set.
func (t *Target) applySettings(ctx context.Context, tx *sql.Tx, o *opRow) error {
	s := o.settings
	switch o.typ {
	case fleet.InstanceCreate:
		subnet := or(s.Subnet, "subnet-1")
		if s.Pool != "" {
			if err := tx.QueryRowContext(ctx, `SELECT subnet FROM mi_pools WHERE name = ?`, s.Pool).Scan(&subnet); err != nil {
				return err
			}
		}
		zr := s.ZoneRedundant != nil && *s.ZoneRedundant
		labels, _ := json.Marshal(orMap(s.Labels))
		_, err := tx.ExecContext(ctx, `INSERT INTO mi_instances(name, tier, vcores, storage_gb, hardware, zone_redundant, license_type,
			maintenance_window, pool, subnet, labels, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING`,
			o.instance, or(s.Tier, estimate.GeneralPurpose), s.VCores, s.StorageGB, or(s.Hardware, "Gen5"), zr, or(s.LicenseType, "LicenseIncluded"),
			or(s.MaintenanceWindow, "Default"), s.Pool, subnet, string(labels), nowText())
		return err
	case fleet.InstanceDelete:
		return t.deleteInstance(ctx, tx, o)
	case fleet.InstanceMoveIntoPool:
		_, err := tx.ExecContext(ctx, `UPDATE mi_instances SET pool = ?, subnet = (SELECT subnet FROM mi_pools WHERE name = ?) WHERE name = ?`, s.Pool, s.Pool, o.instance)
		return err
	case fleet.InstanceMoveOutOfPool:
		_, err := tx.ExecContext(ctx, `UPDATE mi_instances SET pool = '' WHERE name = ?`, o.instance)
		return err
	}
	var zr any
	if s.ZoneRedundant != nil {
		zr = *s.ZoneRedundant
	}
	_, err := tx.ExecContext(ctx, `UPDATE mi_instances SET
		tier = COALESCE(NULLIF(?, ''), tier), vcores = COALESCE(NULLIF(?, 0), vcores), storage_gb = COALESCE(NULLIF(?, 0), storage_gb),
		hardware = COALESCE(NULLIF(?, ''), hardware), zone_redundant = COALESCE(?, zone_redundant),
		license_type = COALESCE(NULLIF(?, ''), license_type), maintenance_window = COALESCE(NULLIF(?, ''), maintenance_window)
		WHERE name = ?`, s.Tier, s.VCores, s.StorageGB, s.Hardware, zr, s.LicenseType, s.MaintenanceWindow, o.instance)
	return err
}

// deleteInstance removes an instance after the tail-log backup: its database
// files are kept under DIR/backups/<instance>-<operation>/, as Azure keeps
// the backups of a deleted instance's databases for their retention period.
func (t *Target) deleteInstance(ctx context.Context, tx *sql.Tx, o *opRow) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM databases WHERE server = ?`, o.instance)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	backups := filepath.Join(t.dir, "backups", o.instance+"-"+o.id)
	for _, n := range names {
		p := t.pathOf(fleet.Location{Server: o.instance, Database: n})
		if err := t.keepCopy(ctx, p); err != nil {
			return err
		}
		t.closePools(p)
		if err := os.MkdirAll(backups, 0o755); err != nil {
			return err
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(p+suffix, filepath.Join(backups, n+".db"+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	for _, q := range []string{`DELETE FROM databases WHERE server = ?`, `DELETE FROM mi_databases WHERE instance = ?`,
		`DELETE FROM mi_transactions WHERE instance = ?`, `DELETE FROM mi_instances WHERE name = ?`} {
		if _, err := tx.ExecContext(ctx, q, o.instance); err != nil {
			return err
		}
	}
	return nil
}

// CancelInstanceOperation implements fleet.InstanceManager: an update
// cancels until its failover starts; the instance keeps its old settings.
func (t *Target) CancelInstanceOperation(ctx context.Context, id string) error {
	if err := t.miInit(ctx); err != nil {
		return err
	}
	err := t.catalogTx(ctx, func(tx *sql.Tx) error {
		o, err := scanOp(tx.QueryRowContext(ctx, `SELECT `+opColumns+` FROM mi_operations WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return &fleet.Error{Op: "cancel operation", Target: id, Err: fmt.Errorf("%w: no instance operation %s", fleet.ErrNotFound, id)}
		}
		if err != nil {
			return err
		}
		now := time.Now()
		if err := t.advance(ctx, tx, o, now); err != nil {
			return err
		}
		switch fleet.InstanceOpState(o.state) {
		case fleet.OpCancelled:
			return nil
		case fleet.OpSucceeded, fleet.OpFailed:
			return &fleet.Error{Op: "cancel operation", Target: id, Err: fmt.Errorf("%w: it ended %s", fleet.ErrCannotCancel, o.state)}
		}
		phase, _, _ := o.at(now)
		if o.typ != fleet.InstanceUpdate || !beforeFailover(o.phases, phase) {
			return &fleet.Error{Op: "cancel operation", Target: id, Err: fmt.Errorf("%w: a %s in phase %s", fleet.ErrCannotCancel, o.typ, o.phases[phase]),
				Hint: "the service cancels an update until its failover; wait for this one to end"}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mi_operations SET cancel_requested = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		o.cancel = true
		return t.endOp(ctx, tx, o, fleet.OpCancelled, phase, "cancelled on request", now)
	})
	return cpError("cancel operation", id, err)
}

func beforeFailover(phases []string, phase int) bool {
	for i, p := range phases {
		if p == estimate.PhaseFailover {
			return phase < i
		}
	}
	return false
}

// failingOver returns the transient error of a connection to a database of
// an instance that is failing over (the unavailable moment of an update),
// nil otherwise.
func (t *Target) failingOver(ctx context.Context, loc fleet.Location) error {
	if err := t.miInit(ctx); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	var id string
	err := t.pq(t.catalog).QueryRowContext(ctx, `SELECT id FROM mi_operations WHERE instance = ? AND state = 'InProgress'
		AND failover_from_ns <= ? AND failover_to_ns > ?`, loc.Server, now, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return cpError("read catalog", t.dir, err)
	}
	return &fleet.Error{Op: "connect", Target: loc.String(), Code: 40613,
		Err:  fmt.Errorf("database '%s' on server '%s' is not currently available (managed instance failing over, operation %s)", loc.Database, loc.Server, id),
		Hint: "retry the connection later; the failover ends the instance operation"}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
