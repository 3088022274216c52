package local

import (
	"context"
	"database/sql"

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
	return elasticdb.RecoverPending(ctx, t.executor(g))
}
