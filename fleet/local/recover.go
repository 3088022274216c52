package local

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/uuid"
)

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
		op, err := elasticdb.ParseOperation(r.code, r.data, r.removes, r.adds)
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
