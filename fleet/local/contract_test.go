package local

import (
	"context"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/fleettest"
)

func TestContract(t *testing.T) {
	fleettest.Run(t, func(t *testing.T) fleet.ShardMapStore {
		ctx := context.Background()
		tg, err := Init(ctx, t.TempDir(), InitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tg.Close() })
		for _, loc := range []fleet.Location{{Server: "sql-1", Database: "db_a"}, {Server: "sql-1", Database: "db_b"}, {Server: "sql-2", Database: "db_c"}} {
			if err := tg.CreateDatabase(ctx, loc); err != nil {
				t.Fatal(err)
			}
		}
		return tg
	})
}
