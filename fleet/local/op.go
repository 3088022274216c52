package local

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// Step kinds of the library's bulk operations.
const (
	stepRemove = 1
	stepUpdate = 2
	stepAdd    = 3
)

// undoBegin is StoreOperationState.UndoBegin, the column default.
const undoBegin = 100

type shardRec struct {
	ID, Version, MapID uuid.UUID
	Loc                fleet.Location
	Status             int
}

type mapRec struct {
	ID, MapID uuid.UUID
	Min, Max  []byte
	Status    int
	LockOwner uuid.UUID
}

type opStep struct {
	Kind     int
	Validate bool
	Lock     uuid.UUID
	Mapping  mapRec    // mapping steps: the row removed, updated (old) or added
	New      *mapRec   // update steps: the row after the update
	Shard    *shardRec // shard steps: the shard added, removed or updated (old)
	NewShard *shardRec // shard update steps: the shard after the update
}

// operation is one multi-database change, as logged in OperationsLogGlobal.
type operation struct {
	ID      uuid.UUID
	Code    int
	Map     fleet.ShardMap
	ShardOp bool // BulkOperationShardsGlobal (else BulkOperationShardMappingsGlobal)
	// Mapping operations: the source (Removes) and target (Adds) shards with
	// their NEW versions, and their versions before the operation.
	Source, Target         *shardRec
	OrigSource, OrigTarget uuid.UUID
	Steps                  []opStep
}

func (op *operation) sameShard() bool { return op.Source.ID == op.Target.ID }

// faultPoint is the fault injection point of an operation: shardmap.<op>.
func (op *operation) faultPoint() string {
	switch op.Code {
	case fleet.OpAddShard, fleet.OpAttachShard:
		return "shardmap.add-shard"
	case fleet.OpRemoveShard:
		return "shardmap.remove-shard"
	case fleet.OpUpdateShard:
		return "shardmap.update-shard"
	case fleet.OpAddPointMapping, fleet.OpAddRangeMapping:
		return "shardmap.add-mapping"
	case fleet.OpRemovePointMapping, fleet.OpRemoveRangeMapping:
		return "shardmap.remove-mapping"
	case fleet.OpSplitMapping:
		return "shardmap.split"
	case fleet.OpMergeMappings:
		return "shardmap.merge"
	}
	return "shardmap.update-mapping"
}

// ---- XML in the library's request shape (StoreOperationRequestBuilder) ----

type xVersion struct {
	MajorVersion int
	MinorVersion int
}

type xShardMap struct {
	Null    int    `xml:"Null,attr"`
	Id      string `xml:"Id"`
	Name    string `xml:"Name"`
	Kind    int    `xml:"Kind"`
	KeyKind int    `xml:"KeyKind"`
}

type xLocation struct {
	Protocol     int
	ServerName   string
	Port         int
	DatabaseName string
}

type xShard struct {
	Null       int `xml:"Null,attr"`
	Id         string
	Version    string
	ShardMapId string
	Location   xLocation
	Status     int
}

type xMaxValue struct {
	Null  int    `xml:"Null,attr"`
	Value string `xml:",chardata"`
}

type xMapping struct {
	Id          string
	ShardMapId  string
	MinValue    string
	MaxValue    xMaxValue
	Status      int
	LockOwnerId string
}

type xLock struct{ Id string }

type xUpdate struct {
	Mapping *xMapping `xml:"Mapping,omitempty"`
	Shard   *xShard   `xml:"Shard,omitempty"`
}

type xStep struct {
	Validate *int      `xml:"Validate,attr,omitempty"`
	Kind     int       `xml:"Kind,attr"`
	Id       int       `xml:"Id,attr"`
	Lock     *xLock    `xml:"Lock,omitempty"`
	Mapping  *xMapping `xml:"Mapping,omitempty"`
	Shard    *xShard   `xml:"Shard,omitempty"`
	Update   *xUpdate  `xml:"Update,omitempty"`
}

type xShardHolder struct {
	Shard xShard
}

type xOp struct {
	XMLName       xml.Name
	OperationId   string        `xml:"OperationId,attr"`
	OperationCode int           `xml:"OperationCode,attr"`
	Undo          int           `xml:"Undo,attr"`
	StepsCount    int           `xml:"StepsCount,attr"`
	GsmVersion    xVersion      `xml:"GsmVersion"`
	ShardMap      xShardMap     `xml:"ShardMap"`
	Removes       *xShardHolder `xml:"Removes,omitempty"`
	Adds          *xShardHolder `xml:"Adds,omitempty"`
	Steps         struct {
		Step []xStep `xml:"Step"`
	} `xml:"Steps"`
}

func hexKey(b []byte) string { return "0x" + hex.EncodeToString(b) }

func parseHexKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, fmt.Errorf("key %q lacks 0x", s)
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func toXShard(s *shardRec) *xShard {
	return &xShard{Id: s.ID.String(), Version: s.Version.String(), ShardMapId: s.MapID.String(),
		Location: xLocation{ServerName: s.Loc.Server, DatabaseName: s.Loc.Database}, Status: s.Status}
}

func toXMapping(m mapRec) *xMapping {
	x := &xMapping{Id: m.ID.String(), ShardMapId: m.MapID.String(), MinValue: hexKey(m.Min), Status: m.Status,
		LockOwnerId: m.LockOwner.String()}
	if m.Max == nil {
		x.MaxValue.Null = 1
	} else {
		x.MaxValue.Value = hexKey(m.Max)
	}
	return x
}

// xml renders the operation as the library's request document, which is
// what OperationsLogGlobal.Data holds.
func (op *operation) xml() (string, error) {
	x := xOp{
		OperationId:   op.ID.String(),
		OperationCode: op.Code,
		StepsCount:    len(op.Steps),
		GsmVersion:    xVersion{storeVersionMajor, storeVersionMinor},
		ShardMap:      xShardMap{Id: op.Map.ID.String(), Name: op.Map.Name, Kind: int(op.Map.Type), KeyKind: int(op.Map.KeyType)},
	}
	if op.ShardOp {
		x.XMLName.Local = "BulkOperationShardsGlobal"
	} else {
		x.XMLName.Local = "BulkOperationShardMappingsGlobal"
		x.Removes = &xShardHolder{Shard: *toXShard(op.Source)}
		x.Adds = &xShardHolder{Shard: *toXShard(op.Target)}
	}
	for i, s := range op.Steps {
		xs := xStep{Kind: s.Kind, Id: i + 1}
		if op.ShardOp {
			xs.Shard = toXShard(s.Shard)
			if s.NewShard != nil {
				xs.Update = &xUpdate{Shard: toXShard(s.NewShard)}
			}
		} else {
			v := 0
			if s.Validate {
				v = 1
			}
			xs.Validate = &v
			if s.Kind != stepAdd {
				xs.Lock = &xLock{Id: s.Lock.String()}
			}
			xs.Mapping = toXMapping(s.Mapping)
			if s.New != nil {
				xs.Update = &xUpdate{Mapping: toXMapping(*s.New)}
			}
		}
		x.Steps.Step = append(x.Steps.Step, xs)
	}
	b, err := xml.Marshal(x)
	return string(b), err
}

func fromXShard(x *xShard) (*shardRec, error) {
	if x == nil || x.Null != 0 {
		return nil, errors.New("shard element missing")
	}
	var s shardRec
	var err error
	if s.ID, err = parseID(x.Id); err != nil {
		return nil, err
	}
	if s.Version, err = parseID(x.Version); err != nil {
		return nil, err
	}
	if s.MapID, err = parseID(x.ShardMapId); err != nil {
		return nil, err
	}
	if x.Location.Protocol != 0 || x.Location.Port != 0 {
		return nil, fmt.Errorf("shard %s uses protocol %d port %d; the local driver has neither", x.Id, x.Location.Protocol, x.Location.Port)
	}
	s.Loc = fleet.Location{Server: x.Location.ServerName, Database: x.Location.DatabaseName}
	s.Status = x.Status
	return &s, nil
}

func fromXMapping(x *xMapping) (mapRec, error) {
	var m mapRec
	if x == nil {
		return m, errors.New("mapping element missing")
	}
	var err error
	if m.ID, err = parseID(x.Id); err != nil {
		return m, err
	}
	if m.MapID, err = parseID(x.ShardMapId); err != nil {
		return m, err
	}
	if m.Min, err = parseHexKey(x.MinValue); err != nil {
		return m, err
	}
	if x.MaxValue.Null == 0 {
		if m.Max, err = parseHexKey(x.MaxValue.Value); err != nil {
			return m, err
		}
	}
	m.Status = x.Status
	if x.LockOwnerId != "" {
		if m.LockOwner, err = parseID(x.LockOwnerId); err != nil {
			return m, err
		}
	}
	return m, nil
}

// parseOperation reads a log row back (ours or the library's).
func parseOperation(code int, data string, removes, adds sql.NullString) (*operation, error) {
	var x xOp
	if err := xml.Unmarshal([]byte(data), &x); err != nil {
		return nil, err
	}
	op := &operation{Code: code}
	var err error
	if op.ID, err = parseID(x.OperationId); err != nil {
		return nil, err
	}
	if op.Map.ID, err = parseID(x.ShardMap.Id); err != nil {
		return nil, err
	}
	op.Map.Name, op.Map.Type, op.Map.KeyType = x.ShardMap.Name, fleet.MapType(x.ShardMap.Kind), fleet.KeyType(x.ShardMap.KeyKind)
	switch x.XMLName.Local {
	case "BulkOperationShardsGlobal":
		op.ShardOp = true
	case "BulkOperationShardMappingsGlobal":
		if x.Removes == nil || x.Adds == nil {
			return nil, errors.New("mapping operation without <Removes> and <Adds>")
		}
		if op.Source, err = fromXShard(&x.Removes.Shard); err != nil {
			return nil, fmt.Errorf("Removes: %v", err)
		}
		if op.Target, err = fromXShard(&x.Adds.Shard); err != nil {
			return nil, fmt.Errorf("Adds: %v", err)
		}
		// The log columns hold the versions before the operation.
		op.OrigSource, op.OrigTarget = op.Source.Version, op.Target.Version
		if removes.Valid {
			if op.OrigSource, err = parseID(removes.String); err != nil {
				return nil, err
			}
		}
		if adds.Valid {
			if op.OrigTarget, err = parseID(adds.String); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("unknown operation document <%s>", x.XMLName.Local)
	}
	for _, xs := range x.Steps.Step {
		s := opStep{Kind: xs.Kind, Validate: xs.Validate != nil && *xs.Validate == 1}
		if xs.Kind < stepRemove || xs.Kind > stepAdd {
			return nil, fmt.Errorf("step %d: unknown kind %d", xs.Id, xs.Kind)
		}
		if xs.Lock != nil {
			if s.Lock, err = parseID(xs.Lock.Id); err != nil {
				return nil, err
			}
		}
		if op.ShardOp {
			if s.Shard, err = fromXShard(xs.Shard); err != nil {
				return nil, fmt.Errorf("step %d: %v", xs.Id, err)
			}
			if xs.Update != nil && xs.Update.Shard != nil {
				if s.NewShard, err = fromXShard(xs.Update.Shard); err != nil {
					return nil, fmt.Errorf("step %d: %v", xs.Id, err)
				}
			}
		} else {
			if s.Mapping, err = fromXMapping(xs.Mapping); err != nil {
				return nil, fmt.Errorf("step %d: %v", xs.Id, err)
			}
			if xs.Update != nil && xs.Update.Mapping != nil {
				n, err := fromXMapping(xs.Update.Mapping)
				if err != nil {
					return nil, fmt.Errorf("step %d: %v", xs.Id, err)
				}
				s.New = &n
			}
			if s.Kind == stepUpdate && s.New == nil {
				return nil, fmt.Errorf("step %d: update without <Update>", xs.Id)
			}
		}
		op.Steps = append(op.Steps, s)
	}
	return op, nil
}

// ---- crash simulation and fault points ----

// errSimulatedCrash stops an operation dead, as a killed process would.
var errSimulatedCrash = errors.New("simulated crash")

// Crash points of a multi-database operation, for SimulateCrash.
const (
	CrashAfterGSMBegin  = "gsm-begin"  // log row and pending GSM rows committed
	CrashAfterLSMSource = "lsm-source" // source shard's LSM committed
	CrashAfterLSMTarget = "lsm-target" // target shard's LSM committed, GSM end not run
)

// SimulateCrash makes the next shard map operation that reaches point stop
// there without cleaning up, returning an error, exactly as if the process
// had been killed. The next writer's RecoverPending rolls it back. For tests.
func (t *Target) SimulateCrash(point string) {
	t.crashMu.Lock()
	t.crashAt = point
	t.crashMu.Unlock()
}

// reach marks that an operation passed a point: a simulated crash, then the
// fault injection point shardmap.<op> (hit once per point, so the Nth hit
// of an operation is its Nth phase boundary).
func (t *Target) reach(op *operation, point string) error {
	t.crashMu.Lock()
	crash := t.crashAt == point
	if crash {
		t.crashAt = ""
	}
	t.crashMu.Unlock()
	if crash {
		return fmt.Errorf("%s after %s: %w", op.faultPoint(), point, errSimulatedCrash)
	}
	return faults.Hit(op.faultPoint())
}

// ---- writer lock ----

// lockWriters serialises shard map writers: a mutex inside the process and a
// file lock across processes (released by the kernel if the holder dies).
func (t *Target) lockWriters(ctx context.Context) (func(), error) {
	t.writeMu.Lock()
	ok, err := t.flock.TryLockContext(ctx, 10*time.Millisecond)
	if err != nil || !ok {
		t.writeMu.Unlock()
		if err == nil {
			err = errors.New("lock not acquired")
		}
		return nil, &fleet.Error{Op: "lock shard map store", Target: t.dir, Err: err, Transient: ctx.Err() == nil}
	}
	return func() {
		_ = t.flock.Unlock()
		t.writeMu.Unlock()
	}, nil
}

// write runs fn with the writer lock held, after rolling back operations
// left pending by crashed writers. create deploys the GSM when missing.
func (t *Target) write(ctx context.Context, create bool, fn func(g *sql.DB) error) error {
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	g, err := t.gsm(ctx, create)
	if err != nil {
		return err
	}
	if g == nil {
		return &fleet.Error{Op: "change shard map", Target: t.dir, Err: fleet.ResultShardMapDoesNotExist,
			Hint: "the fleet has no shard maps yet; create one first"}
	}
	if _, err := t.recoverLocked(ctx, g); err != nil {
		return err
	}
	return fn(g)
}

// RecoverPending implements fleet.ShardMapStore.
func (t *Target) RecoverPending(ctx context.Context) ([]uuid.UUID, error) {
	unlock, err := t.lockWriters(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	g, err := t.gsm(ctx, false)
	if err != nil || g == nil {
		return nil, err
	}
	return t.recoverLocked(ctx, g)
}

func (t *Target) recoverLocked(ctx context.Context, g *sql.DB) ([]uuid.UUID, error) {
	rows, err := g.QueryContext(ctx, `SELECT OperationId, OperationCode, Data, ShardVersionRemoves, ShardVersionAdds
		FROM `+tOpsLogGlobal+` ORDER BY rowid`)
	if err != nil {
		return nil, sqlErr("read operations log", fleet.Location{}, err)
	}
	type logRow struct {
		id, data      string
		code          int
		removes, adds sql.NullString
	}
	var pending []logRow
	for rows.Next() {
		var r logRow
		if err := rows.Scan(&r.id, &r.code, &r.data, &r.removes, &r.adds); err != nil {
			rows.Close()
			return nil, err
		}
		pending = append(pending, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var done []uuid.UUID
	for _, r := range pending {
		op, err := parseOperation(r.code, r.data, r.removes, r.adds)
		if err != nil {
			return done, &fleet.Error{Op: "recover pending operation", Target: r.id,
				Err:  fmt.Errorf("%w: cannot read OperationsLogGlobal.Data of operation code %d: %v", fleet.ResultUnexpectedStoreError, r.code, err),
				Hint: "inspect the row in __ShardManagement_OperationsLogGlobal; fleetplan will not guess how to undo it"}
		}
		if err := t.undo(ctx, g, op); err != nil {
			return done, err
		}
		done = append(done, op.ID)
	}
	return done, nil
}

// ---- doing an operation ----

// run performs op: GSM begin, LSM(s), GSM end. A failure after GSM begin is
// rolled back at once (as the library does); a simulated crash is not.
func (t *Target) run(ctx context.Context, g *sql.DB, op *operation) error {
	data, err := op.xml()
	if err != nil {
		return err
	}
	if err := t.gsmBegin(ctx, g, op, data); err != nil {
		return err
	}
	fail := func(cause error) error {
		if errors.Is(cause, errSimulatedCrash) {
			return cause
		}
		// Roll back on a fresh context: the caller's may be the reason we stop.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := t.undo(uctx, g, op); uerr != nil {
			return errors.Join(cause, fmt.Errorf("rolling back operation %s: %w (the next writer retries)", op.ID, uerr))
		}
		return cause
	}
	if err := t.reach(op, CrashAfterGSMBegin); err != nil {
		return fail(err)
	}
	if op.ShardOp {
		if err := t.lsmShardDo(ctx, op); err != nil {
			return fail(err)
		}
		if err := t.reach(op, CrashAfterLSMSource); err != nil {
			return fail(err)
		}
	} else {
		src, tgt := op.lsmChanges()
		if op.sameShard() {
			both := lsmChange{shard: op.Source, orig: op.OrigSource, removes: src.removes, adds: tgt.adds}
			if err := t.lsmDo(ctx, op, both); err != nil {
				return fail(err)
			}
			if err := t.reach(op, CrashAfterLSMSource); err != nil {
				return fail(err)
			}
		} else {
			if err := t.lsmDo(ctx, op, src); err != nil {
				return fail(err)
			}
			if err := t.reach(op, CrashAfterLSMSource); err != nil {
				return fail(err)
			}
			if err := t.lsmDo(ctx, op, tgt); err != nil {
				return fail(err)
			}
		}
	}
	if err := t.reach(op, CrashAfterLSMTarget); err != nil {
		return fail(err)
	}
	if err := t.gsmEnd(ctx, g, op); err != nil {
		return fail(err)
	}
	return nil
}

// lockedErr refuses a change of a mapping that another owner has locked,
// naming the owner.
func lockedErr(what string, m fleet.ShardMap, mp mapRec, owner string, r fleet.StoreResult) error {
	o, _ := uuid.Parse(owner)
	op := &operation{Map: m}
	return &fleet.Error{Op: what, Target: m.Name,
		Err: &fleet.MappingLockedError{Mapping: op.rangeText(mp), Owner: o, Result: r},
		Hint: "another run or tool holds this mapping (fleetplan runs lock the ranges they move with an owner derived from the run id); " +
			"wait for it to finish, or, if its owner is gone for good, clear LockOwnerId of the mapping in __ShardManagement_ShardMappingsGlobal " +
			"(the library's UnlockMapping) and plan again"}
}

func storeErr(op string, target string, r fleet.StoreResult, hint string) error {
	return &fleet.Error{Op: op, Target: target, Err: r, Hint: hint}
}

func isRemoveCode(code int) bool {
	return code == fleet.OpRemovePointMapping || code == fleet.OpRemoveRangeMapping || code == 13
}

// gsmBegin is spBulkOperationShard(Mapping)sGlobalBegin: validate, write the
// log row, lock rows with OperationId, insert pending rows (Readable = 0).
func (t *Target) gsmBegin(ctx context.Context, g *sql.DB, op *operation, data string) error {
	what := op.faultPoint()
	tx, err := g.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	var removes, adds any
	if !op.ShardOp {
		removes, adds = op.OrigSource.String(), op.OrigTarget.String()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+tOpsLogGlobal+`(OperationId, OperationCode, Data, UndoStartState, ShardVersionRemoves, ShardVersionAdds)
		VALUES(?, ?, ?, ?, ?, ?)`, opID, op.Code, data, undoBegin, removes, adds); err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	if op.ShardOp {
		if err := gsmBeginShardSteps(ctx, tx, op); err != nil {
			return err
		}
		return sqlErr(what, fleet.Location{}, tx.Commit())
	}
	shards := []struct {
		s    *shardRec
		orig uuid.UUID
	}{{op.Source, op.OrigSource}}
	if !op.sameShard() {
		shards = append(shards, struct {
			s    *shardRec
			orig uuid.UUID
		}{op.Target, op.OrigTarget})
	}
	for _, sh := range shards {
		var ver string
		var readable int
		var opCol sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT Version, Readable, OperationId FROM `+tShardsGlobal+` WHERE ShardId = ?`, sh.s.ID.String()).
			Scan(&ver, &readable, &opCol)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && readable != 1):
			return storeErr(what, sh.s.Loc.String(), fleet.ResultShardDoesNotExist, "")
		case err != nil:
			return sqlErr(what, sh.s.Loc, err)
		case opCol.Valid && opCol.String != opID:
			return storeErr(what, sh.s.Loc.String(), fleet.ResultPendingOperation, "retry: the next writer rolls the pending operation back")
		case ver != sh.orig.String():
			return storeErr(what, sh.s.Loc.String(), fleet.ResultShardVersionMismatch, "the shard changed meanwhile; read it again and retry")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsGlobal+` SET OperationId = ? WHERE ShardId = ?`, opID, sh.s.ID.String()); err != nil {
			return sqlErr(what, sh.s.Loc, err)
		}
	}
	for _, s := range op.Steps {
		switch s.Kind {
		case stepRemove, stepUpdate:
			var status int
			var owner string
			var opCol sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT Status, LockOwnerId, OperationId FROM `+tMappingsGlobal+`
				WHERE MappingId = ? AND ShardMapId = ? AND Readable = 1`, s.Mapping.ID.String(), op.Map.ID.String()).Scan(&status, &owner, &opCol)
			target := op.Map.Name + "/" + s.Mapping.ID.String()
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return storeErr(what, target, fleet.ResultMappingDoesNotExist, "mapping ids change on every update; look the mapping up again by key")
			case err != nil:
				return sqlErr(what, fleet.Location{}, err)
			case opCol.Valid:
				return storeErr(what, target, fleet.ResultPendingOperation, "retry: the next writer rolls the pending operation back")
			case owner != s.Lock.String() && s.Lock != fleet.ForceUnlock:
				return lockedErr(what, op.Map, s.Mapping, owner, fleet.ResultMappingLockOwnerIDDiff)
			case s.Kind == stepRemove && isRemoveCode(op.Code) && status&1 != 0:
				return storeErr(what, target, fleet.ResultMappingNotOffline, "take the mapping offline first")
			case s.Kind == stepUpdate && status&1 != 0 && s.New.Status&1 != 0 && op.Source.ID != op.Target.ID:
				return storeErr(what, target, fleet.ResultMappingNotOffline, "take the mapping offline before moving it to another shard")
			}
			if _, err := tx.ExecContext(ctx, `UPDATE `+tMappingsGlobal+` SET OperationId = ? WHERE MappingId = ?`, opID, s.Mapping.ID.String()); err != nil {
				return sqlErr(what, fleet.Location{}, err)
			}
		case stepAdd:
			if s.Validate {
				if r := overlap(ctx, tx, op, s.Mapping); r != nil {
					return r
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO `+tMappingsGlobal+`(MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, Status, LockOwnerId)
				VALUES(?, 0, ?, ?, ?, ?, ?, ?, ?)`, s.Mapping.ID.String(), op.Target.ID.String(), op.Map.ID.String(), opID,
				keyArg(s.Mapping.Min), keyArg(s.Mapping.Max), s.Mapping.Status, s.Mapping.LockOwner.String())
			if err != nil {
				return sqlErr(what, fleet.Location{}, err)
			}
		}
	}
	return sqlErr(what, fleet.Location{}, tx.Commit())
}

// overlap checks an added mapping against the readable mappings that this
// operation does not remove: 302 (range) / 303 (point).
func overlap(ctx context.Context, tx *sql.Tx, op *operation, m mapRec) error {
	var n int
	var err error
	if op.Map.Type == fleet.ListMap {
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsGlobal+` WHERE ShardMapId = ? AND Readable = 1
			AND (OperationId IS NULL OR OperationId <> ?) AND MinValue = ?`, op.Map.ID.String(), op.ID.String(), keyArg(m.Min)).Scan(&n)
		if err == nil && n > 0 {
			return storeErr(op.faultPoint(), op.Map.Name, fleet.ResultMappingPointMapped, "the point is already mapped")
		}
	} else {
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsGlobal+` WHERE ShardMapId = ? AND Readable = 1
			AND (OperationId IS NULL OR OperationId <> ?)
			AND (MaxValue IS NULL OR MaxValue > ?) AND (? IS NULL OR MinValue < ?)`,
			op.Map.ID.String(), op.ID.String(), keyArg(m.Min), keyArg(m.Max), keyArg(m.Max)).Scan(&n)
		if err == nil && n > 0 {
			return storeErr(op.faultPoint(), op.Map.Name, fleet.ResultMappingRangeMapped, "the range overlaps an existing mapping")
		}
	}
	if err != nil {
		return sqlErr(op.faultPoint(), fleet.Location{}, err)
	}
	return nil
}

func gsmBeginShardSteps(ctx context.Context, tx *sql.Tx, op *operation) error {
	what := op.faultPoint()
	opID := op.ID.String()
	for _, s := range op.Steps {
		sh := s.Shard
		switch s.Kind {
		case stepAdd:
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tShardsGlobal+` WHERE ShardMapId = ? AND Protocol = 0 AND Port = 0
				AND ServerName = ? AND DatabaseName = ?`, sh.MapID.String(), sh.Loc.Server, sh.Loc.Database).Scan(&n); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
			if n > 0 {
				return storeErr(what, sh.Loc.String(), fleet.ResultShardLocationExists, "")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+tShardsGlobal+`(ShardId, Readable, Version, ShardMapId, OperationId, Protocol, ServerName, Port, DatabaseName, Status)
				VALUES(?, 0, ?, ?, ?, 0, ?, 0, ?, ?)`, sh.ID.String(), sh.Version.String(), sh.MapID.String(), opID,
				sh.Loc.Server, sh.Loc.Database, sh.Status); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		case stepRemove, stepUpdate:
			var ver string
			var opCol sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT Version, OperationId FROM `+tShardsGlobal+` WHERE ShardId = ? AND Readable = 1`, sh.ID.String()).Scan(&ver, &opCol)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return storeErr(what, sh.Loc.String(), fleet.ResultShardDoesNotExist, "")
			case err != nil:
				return sqlErr(what, sh.Loc, err)
			case opCol.Valid:
				return storeErr(what, sh.Loc.String(), fleet.ResultPendingOperation, "retry: the next writer rolls the pending operation back")
			case ver != sh.Version.String():
				return storeErr(what, sh.Loc.String(), fleet.ResultShardVersionMismatch, "the shard changed meanwhile; read it again and retry")
			}
			if s.Kind == stepRemove {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsGlobal+` WHERE ShardId = ?`, sh.ID.String()).Scan(&n); err != nil {
					return sqlErr(what, sh.Loc, err)
				}
				if n > 0 {
					return storeErr(what, sh.Loc.String(), fleet.ResultShardHasMappings,
						fmt.Sprintf("%d mapping(s) still point at the shard; move or remove them first", n))
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsGlobal+` SET OperationId = ? WHERE ShardId = ?`, opID, sh.ID.String()); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		}
	}
	return nil
}

// gsmEnd is spBulkOperationShard(Mapping)sGlobalEnd: apply the new versions,
// make added rows readable, delete removed rows, rewrite updated rows (with a
// new MappingId), release the rows and delete the log row.
func (t *Target) gsmEnd(ctx context.Context, g *sql.DB, op *operation) error {
	what := op.faultPoint()
	tx, err := g.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return sqlErr(what, fleet.Location{}, err)
	}
	if op.ShardOp {
		for _, s := range op.Steps {
			var err error
			switch s.Kind {
			case stepAdd:
				err = exec(`UPDATE `+tShardsGlobal+` SET Readable = 1, OperationId = NULL WHERE ShardId = ? AND OperationId = ?`, s.Shard.ID.String(), opID)
			case stepRemove:
				err = exec(`DELETE FROM `+tShardsGlobal+` WHERE ShardId = ? AND OperationId = ?`, s.Shard.ID.String(), opID)
			case stepUpdate:
				n := s.NewShard
				err = exec(`UPDATE `+tShardsGlobal+` SET Version = ?, Status = ?, OperationId = NULL WHERE ShardId = ? AND OperationId = ?`,
					n.Version.String(), n.Status, s.Shard.ID.String(), opID)
			}
			if err != nil {
				return err
			}
		}
	} else {
		for _, sh := range []*shardRec{op.Source, op.Target} {
			if err := exec(`UPDATE `+tShardsGlobal+` SET Version = ?, OperationId = NULL WHERE ShardId = ? AND OperationId = ?`,
				sh.Version.String(), sh.ID.String(), opID); err != nil {
				return err
			}
		}
		for _, kind := range []int{stepRemove, stepUpdate, stepAdd} {
			for _, s := range op.Steps {
				if s.Kind != kind {
					continue
				}
				var err error
				switch kind {
				case stepRemove:
					err = exec(`DELETE FROM `+tMappingsGlobal+` WHERE MappingId = ? AND OperationId = ?`, s.Mapping.ID.String(), opID)
				case stepUpdate:
					err = exec(`UPDATE `+tMappingsGlobal+` SET MappingId = ?, ShardId = ?, Status = ?, OperationId = NULL
						WHERE MappingId = ? AND OperationId = ?`, s.New.ID.String(), op.Target.ID.String(), s.New.Status, s.Mapping.ID.String(), opID)
				case stepAdd:
					err = exec(`UPDATE `+tMappingsGlobal+` SET Readable = 1, OperationId = NULL WHERE MappingId = ? AND OperationId = ?`,
						s.Mapping.ID.String(), opID)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	if err := exec(`DELETE FROM `+tOpsLogGlobal+` WHERE OperationId = ?`, opID); err != nil {
		return err
	}
	return sqlErr(what, fleet.Location{}, tx.Commit())
}

// lsmChange is what one shard's LSM gets from a mapping operation.
type lsmChange struct {
	shard   *shardRec // with the new version
	orig    uuid.UUID // the version before
	removes []mapRec
	adds    []mapRec
}

// lsmChanges splits a mapping operation into the source's and the target's
// LSM changes (an update is a remove of the old id plus an add of the new,
// as the library's spBulkOperationShardMappingsLocal does it).
func (op *operation) lsmChanges() (src, tgt lsmChange) {
	src = lsmChange{shard: op.Source, orig: op.OrigSource}
	tgt = lsmChange{shard: op.Target, orig: op.OrigTarget}
	for _, s := range op.Steps {
		switch s.Kind {
		case stepRemove:
			src.removes = append(src.removes, s.Mapping)
		case stepUpdate:
			src.removes = append(src.removes, s.Mapping)
			tgt.adds = append(tgt.adds, *s.New)
		case stepAdd:
			tgt.adds = append(tgt.adds, s.Mapping)
		}
	}
	return src, tgt
}

// openLSM opens a shard's database and reports whether its LSM is deployed
// (checking the store version when it is).
func (t *Target) openLSM(ctx context.Context, loc fleet.Location) (*sql.DB, bool, error) {
	db, err := t.db(ctx, loc)
	if err != nil {
		return nil, false, err
	}
	has, err := tableExists(ctx, db, tSMMLocal)
	if err != nil {
		return nil, false, sqlErr("open local shard map", loc, err)
	}
	if has {
		if err := checkStoreVersion(ctx, db, tSMMLocal, loc); err != nil {
			return nil, false, err
		}
	}
	return db, has, nil
}

// lsmDo is spBulkOperationShardMappingsLocal: new shard version, removes,
// adds, LastOperationId. Re-entrant: a shard already at the new version by
// this operation is left alone.
func (t *Target) lsmDo(ctx context.Context, op *operation, c lsmChange) error {
	what := op.faultPoint()
	loc := c.shard.Loc
	db, has, err := t.openLSM(ctx, loc)
	if err != nil {
		return err
	}
	if !has {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard has no local shard map", fleet.ResultShardDoesNotExist),
			Hint: differenceHint(op.Map.Name, "the shard's database has no local shard map")}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, loc, err)
	}
	defer tx.Rollback()
	var ver, last string
	err = tx.QueryRowContext(ctx, `SELECT Version, LastOperationId FROM `+tShardsLocal+` WHERE ShardId = ?`, c.shard.ID.String()).Scan(&ver, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: the shard's LSM lacks its own shard row", fleet.ResultShardDoesNotExist),
			Hint: differenceHint(op.Map.Name, "the shard's local shard map lacks its own shard row")}
	}
	if err != nil {
		return sqlErr(what, loc, err)
	}
	if ver == c.shard.Version.String() && last == op.ID.String() {
		return nil
	}
	// The LSM must be where the GSM says it is: a shard restored to an
	// earlier point (or changed by another tool) is refused, never written
	// over, so the two maps do not drift further apart.
	differ := func(r fleet.StoreResult, format string, args ...any) error {
		return &fleet.Error{Op: what, Target: loc.String(), Err: fmt.Errorf("%w: "+format, append([]any{r}, args...)...),
			Hint: differenceHint(op.Map.Name, "the global and local shard maps differ")}
	}
	if ver != c.orig.String() {
		return differ(fleet.ResultShardVersionMismatch, "the shard's local shard map is at version %s, the global shard map expects %s", ver, c.orig)
	}
	opID := op.ID.String()
	if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ?, LastOperationId = ? WHERE ShardId = ?`,
		c.shard.Version.String(), opID, c.shard.ID.String()); err != nil {
		return sqlErr(what, loc, err)
	}
	for _, m := range c.removes {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+tMappingsLocal+` WHERE MappingId = ?`, m.ID.String())
		if err != nil {
			return sqlErr(what, loc, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return differ(fleet.ResultMappingDoesNotExist, "the shard's local shard map lacks mapping %s (id %s)", op.rangeText(m), m.ID)
		}
	}
	for _, m := range c.adds {
		if other, err := lsmOverlap(ctx, tx, op.Map, m); err != nil {
			return sqlErr(what, loc, err)
		} else if other != nil {
			return differ(fleet.ResultMappingRangeMapped, "the shard's local shard map already maps %s (mapping id %s), which overlaps %s",
				op.rangeText(*other), other.ID, op.rangeText(m))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+tMappingsLocal+`(MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId)
			VALUES(?, ?, ?, ?, ?, ?, ?)`, m.ID.String(), c.shard.ID.String(), m.MapID.String(), keyArg(m.Min), keyArg(m.Max), m.Status, opID); err != nil {
			return sqlErr(what, loc, err)
		}
	}
	return sqlErr(what, loc, tx.Commit())
}

// lsmOverlap returns a mapping of the LSM that overlaps m (range maps) or
// holds its point (list maps), or nil.
func lsmOverlap(ctx context.Context, q querier, m fleet.ShardMap, add mapRec) (*mapRec, error) {
	var row *sql.Row
	if m.Type == fleet.ListMap {
		row = q.QueryRowContext(ctx, `SELECT MappingId, MinValue, MaxValue, MaxValue IS NULL FROM `+tMappingsLocal+`
			WHERE ShardMapId = ? AND MinValue = ? LIMIT 1`, m.ID.String(), keyArg(add.Min))
	} else {
		row = q.QueryRowContext(ctx, `SELECT MappingId, MinValue, MaxValue, MaxValue IS NULL FROM `+tMappingsLocal+`
			WHERE ShardMapId = ? AND (MaxValue IS NULL OR MaxValue > ?) AND (? IS NULL OR MinValue < ?) LIMIT 1`,
			m.ID.String(), keyArg(add.Min), keyArg(add.Max), keyArg(add.Max))
	}
	var id string
	var min, max []byte
	var maxNull bool
	err := row.Scan(&id, &min, &max, &maxNull)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := mapRec{MapID: m.ID}
	if r.ID, err = parseID(id); err != nil {
		return nil, err
	}
	r.Min, r.Max = scanKeys(min, max, maxNull)
	return &r, nil
}

// rangeText renders a mapping's bounds for messages.
func (op *operation) rangeText(m mapRec) string {
	if op.Map.Type == fleet.ListMap {
		return "point " + shardkey.FormatBound(op.Map.KeyType, m.Min)
	}
	return "[" + shardkey.FormatBound(op.Map.KeyType, m.Min) + ", " + shardkey.FormatBound(op.Map.KeyType, m.Max) + ")"
}

// differenceHint is the hint for a change refused because the global and a
// local shard map differ: where to see the differences, and what works today.
func differenceHint(mapName, what string) string {
	return what + ": `fleetplan layout --shard-map " + mapName + "` lists the differences between the global and local shard maps; " +
		"automated recovery (ShardMapRecovery plans) is not built yet, so restore the shard database from a backup taken after its last " +
		"shard map change, or rebuild its local shard map from the global one with the Elastic Database library's RecoveryManager, then plan again"
}

// lsmShardDo applies a shard operation to the shard's own database.
func (t *Target) lsmShardDo(ctx context.Context, op *operation) error {
	what := op.faultPoint()
	for _, s := range op.Steps {
		sh := s.Shard
		switch s.Kind {
		case stepAdd:
			db, has, err := t.openLSM(ctx, sh.Loc)
			if err != nil {
				return err
			}
			if !has {
				if _, err := db.ExecContext(ctx, lsmDDL); err != nil {
					return sqlErr("deploy local shard map", sh.Loc, err)
				}
			}
			if err := lsmInsertShard(ctx, db, op, sh); err != nil {
				return err
			}
		case stepRemove:
			exists, err := t.DatabaseExists(ctx, sh.Loc)
			if err != nil {
				return err
			}
			if !exists {
				continue // nothing left to clean in a dropped database
			}
			db, has, err := t.openLSM(ctx, sh.Loc)
			if err != nil || !has {
				return err
			}
			if err := lsmDeleteShard(ctx, db, sh); err != nil {
				return err
			}
		case stepUpdate:
			db, has, err := t.openLSM(ctx, sh.Loc)
			if err != nil {
				return err
			}
			if !has {
				return &fleet.Error{Op: what, Target: sh.Loc.String(), Err: fmt.Errorf("%w: the shard has no local shard map", fleet.ResultShardDoesNotExist)}
			}
			n := s.NewShard
			if _, err := db.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ?, Status = ?, ServerName = ?, DatabaseName = ?, LastOperationId = ?
				WHERE ShardId = ?`, n.Version.String(), n.Status, n.Loc.Server, n.Loc.Database, op.ID.String(), sh.ID.String()); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		}
	}
	return nil
}

func lsmInsertShard(ctx context.Context, db *sql.DB, op *operation, sh *shardRec) error {
	what := op.faultPoint()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, sh.Loc, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+tMapsLocal+`(ShardMapId, Name, MapType, KeyType, LastOperationId)
		VALUES(?, ?, ?, ?, ?)`, sh.MapID.String(), op.Map.Name, int(op.Map.Type), int(op.Map.KeyType), opID); err != nil {
		return sqlErr(what, sh.Loc, err)
	}
	// A stale row for this map and location (left by an earlier shard that
	// was removed from the GSM only) is replaced when it maps nothing.
	var stale sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT ShardId FROM `+tShardsLocal+` WHERE ShardMapId = ? AND ShardId <> ?`, sh.MapID.String(), sh.ID.String()).Scan(&stale)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return sqlErr(what, sh.Loc, err)
	}
	if stale.Valid {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+tMappingsLocal+` WHERE ShardId = ?`, stale.String).Scan(&n); err != nil {
			return sqlErr(what, sh.Loc, err)
		}
		if n > 0 {
			return &fleet.Error{Op: what, Target: sh.Loc.String(),
				Err: fmt.Errorf("%w: the database's LSM already holds shard %s of this map with %d mapping(s)", fleet.ResultShardExists, stale.String, n),
				Hint: "the database was a shard of this map before and its local shard map still maps keys: `fleetplan layout --shard-map " + op.Map.Name +
					"` shows them; automated recovery (ShardMapRecovery plans) is not built yet, so attach it with the Elastic Database library's RecoveryManager.AttachShard, or delete its stale __ShardManagement_*Local rows by hand, then plan again"}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+tShardsLocal+` WHERE ShardId = ?`, stale.String); err != nil {
			return sqlErr(what, sh.Loc, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+tShardsLocal+`(ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status, LastOperationId)
		VALUES(?, ?, ?, 0, ?, 0, ?, ?, ?)`, sh.ID.String(), sh.Version.String(), sh.MapID.String(), sh.Loc.Server, sh.Loc.Database, sh.Status, opID); err != nil {
		return sqlErr(what, sh.Loc, err)
	}
	return sqlErr(what, sh.Loc, tx.Commit())
}

func lsmDeleteShard(ctx context.Context, db *sql.DB, sh *shardRec) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr("remove shard", sh.Loc, err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM ` + tMappingsLocal + ` WHERE ShardId = ?`,
		`DELETE FROM ` + tShardsLocal + ` WHERE ShardId = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, sh.ID.String()); err != nil {
			return sqlErr("remove shard", sh.Loc, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+tMapsLocal+` WHERE ShardMapId = ?
		AND NOT EXISTS (SELECT 1 FROM `+tShardsLocal+` WHERE ShardMapId = ?)`, sh.MapID.String(), sh.MapID.String()); err != nil {
		return sqlErr("remove shard", sh.Loc, err)
	}
	return sqlErr("remove shard", sh.Loc, tx.Commit())
}

// ---- undo ----

// undo rolls an operation back from any point: LSM target, LSM source, then
// the GSM (spBulkOperation...GlobalEnd with Undo = 1). Every part is
// idempotent, so an undo interrupted by another crash is simply run again.
func (t *Target) undo(ctx context.Context, g *sql.DB, op *operation) error {
	if _, err := g.ExecContext(ctx, `UPDATE `+tOpsLogGlobal+` SET UndoStartState = ? WHERE OperationId = ?`, undoBegin, op.ID.String()); err != nil {
		return sqlErr("undo "+op.faultPoint(), fleet.Location{}, err)
	}
	if op.ShardOp {
		if err := t.lsmShardUndo(ctx, op); err != nil {
			return err
		}
	} else {
		src, tgt := op.lsmChanges()
		if op.sameShard() {
			both := lsmChange{shard: op.Source, orig: op.OrigSource, removes: src.removes, adds: tgt.adds}
			if err := t.lsmUndo(ctx, op, both); err != nil {
				return err
			}
		} else {
			if err := t.lsmUndo(ctx, op, tgt); err != nil {
				return err
			}
			if err := t.lsmUndo(ctx, op, src); err != nil {
				return err
			}
		}
	}
	return t.gsmUndo(ctx, g, op)
}

func (t *Target) lsmUndo(ctx context.Context, op *operation, c lsmChange) error {
	what := "undo " + op.faultPoint()
	loc := c.shard.Loc
	exists, err := t.DatabaseExists(ctx, loc)
	if err != nil || !exists {
		return err
	}
	db, has, err := t.openLSM(ctx, loc)
	if err != nil || !has {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, loc, err)
	}
	defer tx.Rollback()
	var last string
	err = tx.QueryRowContext(ctx, `SELECT LastOperationId FROM `+tShardsLocal+` WHERE ShardId = ?`, c.shard.ID.String()).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && last != op.ID.String()) {
		return nil // this operation never reached the shard
	}
	if err != nil {
		return sqlErr(what, loc, err)
	}
	for _, m := range c.adds {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+tMappingsLocal+` WHERE MappingId = ?`, m.ID.String()); err != nil {
			return sqlErr(what, loc, err)
		}
	}
	for _, m := range c.removes {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+tMappingsLocal+`(MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId)
			VALUES(?, ?, ?, ?, ?, ?, ?)`, m.ID.String(), c.shard.ID.String(), m.MapID.String(), keyArg(m.Min), keyArg(m.Max), m.Status, op.ID.String()); err != nil {
			return sqlErr(what, loc, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ? WHERE ShardId = ?`, c.orig.String(), c.shard.ID.String()); err != nil {
		return sqlErr(what, loc, err)
	}
	return sqlErr(what, loc, tx.Commit())
}

func (t *Target) lsmShardUndo(ctx context.Context, op *operation) error {
	what := "undo " + op.faultPoint()
	for _, s := range op.Steps {
		sh := s.Shard
		exists, err := t.DatabaseExists(ctx, sh.Loc)
		if err != nil {
			return err
		}
		if !exists {
			continue
		}
		db, has, err := t.openLSM(ctx, sh.Loc)
		if err != nil {
			return err
		}
		switch s.Kind {
		case stepAdd:
			if !has {
				continue
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return sqlErr(what, sh.Loc, err)
			}
			_, err1 := tx.ExecContext(ctx, `DELETE FROM `+tShardsLocal+` WHERE ShardId = ? AND LastOperationId = ?`, sh.ID.String(), op.ID.String())
			_, err2 := tx.ExecContext(ctx, `DELETE FROM `+tMapsLocal+` WHERE ShardMapId = ? AND LastOperationId = ?
				AND NOT EXISTS (SELECT 1 FROM `+tShardsLocal+` WHERE ShardMapId = ?)`, sh.MapID.String(), op.ID.String(), sh.MapID.String())
			if err := errors.Join(err1, err2); err != nil {
				tx.Rollback()
				return sqlErr(what, sh.Loc, err)
			}
			if err := tx.Commit(); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		case stepRemove:
			if !has {
				if _, err := db.ExecContext(ctx, lsmDDL); err != nil {
					return sqlErr(what, sh.Loc, err)
				}
			}
			if err := lsmInsertShard(ctx, db, op, sh); err != nil {
				return err
			}
		case stepUpdate:
			if !has {
				continue
			}
			if _, err := db.ExecContext(ctx, `UPDATE `+tShardsLocal+` SET Version = ?, Status = ?, ServerName = ?, DatabaseName = ?
				WHERE ShardId = ? AND LastOperationId = ?`, sh.Version.String(), sh.Status, sh.Loc.Server, sh.Loc.Database,
				sh.ID.String(), op.ID.String()); err != nil {
				return sqlErr(what, sh.Loc, err)
			}
		}
	}
	return nil
}

func (t *Target) gsmUndo(ctx context.Context, g *sql.DB, op *operation) error {
	what := "undo " + op.faultPoint()
	tx, err := g.BeginTx(ctx, nil)
	if err != nil {
		return sqlErr(what, fleet.Location{}, err)
	}
	defer tx.Rollback()
	opID := op.ID.String()
	for _, q := range []string{
		`DELETE FROM ` + tMappingsGlobal + ` WHERE OperationId = ? AND Readable = 0`,
		`UPDATE ` + tMappingsGlobal + ` SET OperationId = NULL WHERE OperationId = ?`,
		`DELETE FROM ` + tShardsGlobal + ` WHERE OperationId = ? AND Readable = 0`,
		`UPDATE ` + tShardsGlobal + ` SET OperationId = NULL WHERE OperationId = ?`,
		`DELETE FROM ` + tOpsLogGlobal + ` WHERE OperationId = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, opID); err != nil {
			return sqlErr(what, fleet.Location{}, err)
		}
	}
	return sqlErr(what, fleet.Location{}, tx.Commit())
}
