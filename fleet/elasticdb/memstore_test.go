package elasticdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
	"github.com/google/uuid"
)

// memStore is an Executor over maps: a GSM, and one LSM per database (nil
// for a database without one). Transactions work on a copy that replaces
// the state on commit, so a failed transaction leaves nothing, as in SQL.
// It keeps the keys a SQL store keeps, so a protocol step that would break
// one fails here too.
type memStore struct {
	mu      sync.Mutex // one transaction at a time, from any goroutine
	locks   *opLocks
	gsm     memGSM
	dbs     map[fleet.Location]*memLSM
	crashAt string // Checkpoint returns ErrSimulatedCrash at this point, once
}

type memGSM struct {
	log      []LogRow
	shards   map[uuid.UUID]GSMShard
	mappings map[uuid.UUID]GSMMapping
}

type memLSM struct {
	maps     map[uuid.UUID]LSMMap
	shards   map[uuid.UUID]LSMShard
	mappings map[uuid.UUID]LSMMapping
}

func newMemStore(dbs ...fleet.Location) *memStore {
	s := &memStore{locks: &opLocks{}, gsm: memGSM{shards: map[uuid.UUID]GSMShard{}, mappings: map[uuid.UUID]GSMMapping{}}, dbs: map[fleet.Location]*memLSM{}}
	for _, l := range dbs {
		s.dbs[l] = nil
	}
	return s
}

func (g memGSM) clone() memGSM {
	return memGSM{log: slices.Clone(g.log), shards: maps.Clone(g.shards), mappings: maps.Clone(g.mappings)}
}

func (l *memLSM) clone() *memLSM {
	return &memLSM{maps: maps.Clone(l.maps), shards: maps.Clone(l.shards), mappings: maps.Clone(l.mappings)}
}

func (s *memStore) GSM(ctx context.Context, what string, fn func(GSMTx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &memGSMTx{g: s.gsm.clone()}
	if err := fn(tx); err != nil {
		return wrap(what, err)
	}
	s.gsm = tx.g
	return nil
}

func wrap(what string, err error) error {
	var fe *fleet.Error
	if errors.As(err, &fe) {
		return err
	}
	return &fleet.Error{Op: what, Err: err}
}

func (s *memStore) LSM(ctx context.Context, what string, loc fleet.Location, open LSMOpen, fn func(LSMTx) error) (LSMState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.dbs[loc]
	if !ok {
		if open.IfExists {
			return LSMNoDatabase, nil
		}
		return LSMNoDatabase, &fleet.Error{Op: what, Target: loc.String(), Err: fleet.ErrNoDatabase}
	}
	if l == nil {
		if !open.Deploy {
			return LSMNotDeployed, nil
		}
		l = &memLSM{maps: map[uuid.UUID]LSMMap{}, shards: map[uuid.UUID]LSMShard{}, mappings: map[uuid.UUID]LSMMapping{}}
		s.dbs[loc] = l
	}
	tx := &memLSMTx{l: l.clone()}
	if err := fn(tx); err != nil {
		return LSMReady, wrap(what, err)
	}
	s.dbs[loc] = tx.l
	return LSMReady, nil
}

func (s *memStore) Checkpoint(op *Operation, point string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch point {
	case s.crashAt:
		s.crashAt = ""
		return fmt.Errorf("%s after %s: %w", op.FaultPoint(), point, ErrSimulatedCrash)
	}
	return nil
}

type memGSMTx struct{ g memGSM }

func (t *memGSMTx) LogRows(context.Context) ([]LogRow, error) { return slices.Clone(t.g.log), nil }

func (t *memGSMTx) InsertLog(_ context.Context, r LogRow) error {
	for _, o := range t.g.log {
		if o.ID == r.ID {
			return errors.New("duplicate operation id")
		}
	}
	t.g.log = append(t.g.log, r)
	return nil
}

func (t *memGSMTx) SetUndoStartState(_ context.Context, id uuid.UUID, state int) error {
	for i := range t.g.log {
		if t.g.log[i].ID == id {
			t.g.log[i].UndoStartState = state
		}
	}
	return nil
}

func (t *memGSMTx) DeleteLog(_ context.Context, id uuid.UUID) error {
	t.g.log = slices.DeleteFunc(t.g.log, func(r LogRow) bool { return r.ID == id })
	return nil
}

func ptr[T any](v T, ok bool) *T {
	if !ok {
		return nil
	}
	return &v
}

func (t *memGSMTx) Shard(_ context.Context, id uuid.UUID) (*GSMShard, error) {
	s, ok := t.g.shards[id]
	return ptr(s, ok), nil
}

func (t *memGSMTx) ShardAt(_ context.Context, mapID uuid.UUID, loc fleet.Location) (*GSMShard, error) {
	for _, s := range t.g.shards {
		if s.MapID == mapID && s.Loc.Equal(loc) {
			return &s, nil
		}
	}
	return nil, nil
}

func held(op *uuid.UUID, id uuid.UUID) bool { return op != nil && *op == id }

func (t *memGSMTx) ShardsOfOperation(_ context.Context, op uuid.UUID) ([]GSMShard, error) {
	var out []GSMShard
	for _, s := range t.g.shards {
		if held(s.OperationID, op) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (t *memGSMTx) InsertShard(ctx context.Context, s GSMShard) error {
	if _, ok := t.g.shards[s.ID]; ok {
		return errors.New("duplicate shard id")
	}
	if at, _ := t.ShardAt(ctx, s.MapID, s.Loc); at != nil {
		return errors.New("duplicate shard location")
	}
	t.g.shards[s.ID] = s
	return nil
}

func (t *memGSMTx) UpdateShard(_ context.Context, s GSMShard) error {
	old, ok := t.g.shards[s.ID]
	if !ok {
		return nil
	}
	old.Version, old.Status, old.Readable, old.OperationID = s.Version, s.Status, s.Readable, s.OperationID
	t.g.shards[s.ID] = old
	return nil
}

func (t *memGSMTx) DeleteShard(_ context.Context, id uuid.UUID) error {
	for _, m := range t.g.mappings {
		if m.ShardID == id {
			return errors.New("foreign key: a mapping points at the shard")
		}
	}
	delete(t.g.shards, id)
	return nil
}

func (t *memGSMTx) MappingCount(_ context.Context, shardID uuid.UUID) (int, error) {
	n := 0
	for _, m := range t.g.mappings {
		if m.ShardID == shardID {
			n++
		}
	}
	return n, nil
}

func (t *memGSMTx) Mapping(_ context.Context, mapID, id uuid.UUID) (*GSMMapping, error) {
	m, ok := t.g.mappings[id]
	return ptr(m, ok && m.MapID == mapID), nil
}

func (t *memGSMTx) MappingsOfOperation(_ context.Context, op uuid.UUID) ([]GSMMapping, error) {
	var out []GSMMapping
	for _, m := range t.g.mappings {
		if held(m.OperationID, op) {
			out = append(out, m)
		}
	}
	return out, nil
}

func overlapsRow(m fleet.ShardMap, min, max []byte, rmin, rmax []byte) bool {
	if m.Type == fleet.ListMap {
		return bytes.Equal(rmin, min)
	}
	return (rmax == nil || shardkey.Compare(rmax, min) > 0) && (max == nil || shardkey.Compare(rmin, max) < 0)
}

func (t *memGSMTx) MappingsOverlapping(_ context.Context, m fleet.ShardMap, min, max []byte) ([]GSMMapping, error) {
	var out []GSMMapping
	for _, r := range t.g.mappings {
		if r.MapID == m.ID && overlapsRow(m, min, max, r.Min, r.Max) {
			out = append(out, r)
		}
	}
	return out, nil
}

// checkMappingKeys keeps the GSM's keys: MappingId, (ShardMapId, MinValue,
// Readable) and the shard foreign key.
func (t *memGSMTx) checkMappingKeys(m GSMMapping, except uuid.UUID) error {
	if _, ok := t.g.shards[m.ShardID]; !ok {
		return errors.New("foreign key: no such shard")
	}
	for id, o := range t.g.mappings {
		if id == except {
			continue
		}
		if id == m.ID {
			return errors.New("duplicate mapping id")
		}
		if o.MapID == m.MapID && bytes.Equal(o.Min, m.Min) && o.Readable == m.Readable {
			return errors.New("duplicate (ShardMapId, MinValue, Readable)")
		}
	}
	return nil
}

func (t *memGSMTx) InsertMapping(_ context.Context, m GSMMapping) error {
	if err := t.checkMappingKeys(m, uuid.Nil); err != nil {
		return err
	}
	t.g.mappings[m.ID] = m
	return nil
}

func (t *memGSMTx) UpdateMapping(_ context.Context, old uuid.UUID, m GSMMapping) error {
	o, ok := t.g.mappings[old]
	if !ok {
		return nil
	}
	o.ID, o.ShardID, o.Status, o.Readable, o.LockOwner, o.OperationID = m.ID, m.ShardID, m.Status, m.Readable, m.LockOwner, m.OperationID
	if err := t.checkMappingKeys(o, old); err != nil {
		return err
	}
	delete(t.g.mappings, old)
	t.g.mappings[o.ID] = o
	return nil
}

func (t *memGSMTx) DeleteMapping(_ context.Context, id uuid.UUID) error {
	delete(t.g.mappings, id)
	return nil
}

type memLSMTx struct{ l *memLSM }

func (t *memLSMTx) Map(_ context.Context, id uuid.UUID) (*LSMMap, error) {
	m, ok := t.l.maps[id]
	return ptr(m, ok), nil
}

func (t *memLSMTx) InsertMap(_ context.Context, m LSMMap) error {
	if _, ok := t.l.maps[m.Map.ID]; ok {
		return errors.New("duplicate map id")
	}
	t.l.maps[m.Map.ID] = m
	return nil
}

func (t *memLSMTx) DeleteMap(_ context.Context, id uuid.UUID) error {
	for _, s := range t.l.shards {
		if s.MapID == id {
			return errors.New("foreign key: a shard of the map is left")
		}
	}
	delete(t.l.maps, id)
	return nil
}

func (t *memLSMTx) Shard(_ context.Context, id uuid.UUID) (*LSMShard, error) {
	s, ok := t.l.shards[id]
	return ptr(s, ok), nil
}

func (t *memLSMTx) ShardsOfMap(_ context.Context, mapID uuid.UUID) ([]LSMShard, error) {
	var out []LSMShard
	for _, s := range t.l.shards {
		if s.MapID == mapID {
			out = append(out, s)
		}
	}
	return out, nil
}

func (t *memLSMTx) InsertShard(_ context.Context, s LSMShard) error {
	if _, ok := t.l.maps[s.MapID]; !ok {
		return errors.New("foreign key: no such map")
	}
	for _, o := range t.l.shards {
		if o.ID == s.ID || (o.MapID == s.MapID && o.Loc.Equal(s.Loc)) {
			return errors.New("duplicate shard")
		}
	}
	t.l.shards[s.ID] = s
	return nil
}

func (t *memLSMTx) UpdateShard(_ context.Context, s LSMShard) error {
	o, ok := t.l.shards[s.ID]
	if !ok {
		return nil
	}
	o.Version, o.Status, o.Loc, o.LastOperationID = s.Version, s.Status, s.Loc, s.LastOperationID
	t.l.shards[s.ID] = o
	return nil
}

func (t *memLSMTx) DeleteShard(_ context.Context, id uuid.UUID) error {
	for _, m := range t.l.mappings {
		if m.ShardID == id {
			return errors.New("foreign key: a mapping points at the shard")
		}
	}
	delete(t.l.shards, id)
	return nil
}

func (t *memLSMTx) Mapping(_ context.Context, id uuid.UUID) (*LSMMapping, error) {
	m, ok := t.l.mappings[id]
	return ptr(m, ok), nil
}

func (t *memLSMTx) MappingsOfShard(_ context.Context, shardID uuid.UUID) ([]LSMMapping, error) {
	var out []LSMMapping
	for _, m := range t.l.mappings {
		if m.ShardID == shardID {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return shardkey.Compare(out[i].Min, out[j].Min) < 0 })
	return out, nil
}

func (t *memLSMTx) MappingOverlapping(_ context.Context, m fleet.ShardMap, min, max []byte) (*LSMMapping, error) {
	for _, r := range t.l.mappings {
		if r.MapID == m.ID && overlapsRow(m, min, max, r.Min, r.Max) {
			return &r, nil
		}
	}
	return nil, nil
}

func (t *memLSMTx) InsertMapping(_ context.Context, m LSMMapping) error {
	if _, ok := t.l.shards[m.ShardID]; !ok {
		return errors.New("foreign key: no such shard")
	}
	for _, o := range t.l.mappings {
		if o.ID == m.ID || (o.MapID == m.MapID && bytes.Equal(o.Min, m.Min)) {
			return errors.New("duplicate mapping")
		}
	}
	t.l.mappings[m.ID] = m
	return nil
}

func (t *memLSMTx) DeleteMapping(_ context.Context, id uuid.UUID) error {
	delete(t.l.mappings, id)
	return nil
}

// dump renders every row of the store in a stable order, ids included,
// for comparing a store before and after.
func (s *memStore) dump() string {
	var b strings.Builder
	for _, r := range s.gsm.log {
		fmt.Fprintf(&b, "log %s code=%d undo=%d\n", r.ID, r.Code, r.UndoStartState)
	}
	var lines []string
	for _, sh := range s.gsm.shards {
		lines = append(lines, fmt.Sprintf("gsm shard %s %s v=%s readable=%t op=%v", sh.ID, sh.Loc, sh.Version, sh.Readable, opText(sh.OperationID)))
	}
	for _, m := range s.gsm.mappings {
		lines = append(lines, fmt.Sprintf("gsm mapping %s shard=%s [%x, %x) status=%d lock=%s readable=%t op=%v",
			m.ID, m.ShardID, m.Min, m.Max, m.Status, m.LockOwner, m.Readable, opText(m.OperationID)))
	}
	for loc, l := range s.dbs {
		if l == nil {
			continue // an LSM deployed and left empty is the same (an undone add shard leaves the tables, as in SQL)
		}
		for _, m := range l.maps {
			lines = append(lines, fmt.Sprintf("%s: lsm map %s", loc, m.Map.ID))
		}
		for _, sh := range l.shards {
			lines = append(lines, fmt.Sprintf("%s: lsm shard %s v=%s %s", loc, sh.ID, sh.Version, sh.Loc))
		}
		for _, m := range l.mappings {
			lines = append(lines, fmt.Sprintf("%s: lsm mapping %s shard=%s [%x, %x) status=%d", loc, m.ID, m.ShardID, m.Min, m.Max, m.Status))
		}
	}
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, "\n"))
	return b.String()
}

func opText(u *uuid.UUID) string {
	if u == nil {
		return "-"
	}
	return u.String()
}
