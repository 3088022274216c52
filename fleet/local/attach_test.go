package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

func keptAttached(tg *Target) int {
	tg.attached.mu.Lock()
	defer tg.attached.mu.Unlock()
	return len(tg.attached.m)
}

// A move's batches reuse one connection with the source attached; it is
// dropped when the target's pools close (a database set read-only), when
// the fleet closes, and not used once the source file was replaced.
func TestAttachedConnectionIsKeptOnlyWhileValid(t *testing.T) {
	ctx := context.Background()
	tg := moverFleet(t, 300)
	src, dst := DemoShards[0], DemoShards[1]
	copyRange := func(low, high int64) (fleet.CopyReport, error) {
		return tg.CopyRangeVerified(ctx, src, dst, demoTables, fleet.KeyRange{Low: low, High: high})
	}
	for _, low := range []int64{100, 110, 120} {
		if _, err := copyRange(low, low+10); err != nil {
			t.Fatal(err)
		}
	}
	if n := keptAttached(tg); n != 1 {
		t.Fatalf("%d connections kept after three copies between one pair, want 1", n)
	}
	// Replaced under the same name: the next copy reads the new file.
	srcPath, err := tg.DatabasePath(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	other := fleet.Location{Server: src.Server, Database: "customers_copy"}
	if err := tg.CreateDatabase(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := tg.ApplySQL(ctx, other, ShardSchemaSQL+`; INSERT INTO regions(id, name) VALUES(1, 'r');
		INSERT INTO customers(id, region_id, name) VALUES(130, 1, 'only one')`); err != nil {
		t.Fatal(err)
	}
	otherPath, err := tg.DatabasePath(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	tg.closePools(otherPath) // checkpoints its WAL into the file
	b, err := os.ReadFile(otherPath)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(srcPath), "replacement.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, srcPath); err != nil {
		t.Fatal(err)
	}
	rep, err := copyRange(130, 140)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows["customers"] != 1 || rep.Rows["orders"] != 0 {
		t.Fatalf("copy from the replaced source: %+v, want the one customer it holds", rep)
	}
	// Read-only: the kept connection goes, and the copy is refused.
	if err := tg.SetReadOnly(ctx, dst, true); err != nil {
		t.Fatal(err)
	}
	if n := keptAttached(tg); n != 0 {
		t.Fatalf("%d connections kept after the target's pools closed", n)
	}
	before, _ := tg.CountRange(ctx, dst, "customers", "id", fleet.KeyRange{})
	if _, err := copyRange(140, 150); err == nil || !errors.Is(err, fleet.ErrReadOnly) {
		t.Fatalf("copy into a read-only database: %v, want %v", err, fleet.ErrReadOnly)
	}
	if after, _ := tg.CountRange(ctx, dst, "customers", "id", fleet.KeyRange{}); after != before {
		t.Fatalf("a refused copy changed the target: %d customers, had %d", after, before)
	}
	if err := tg.SetReadOnly(ctx, dst, false); err != nil {
		t.Fatal(err)
	}
	if _, err := copyRange(140, 150); err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if n := keptAttached(tg); n != 0 {
		t.Fatalf("%d connections kept after Close", n)
	}
}

// The statements kept on an attached connection follow a change of either
// schema between batches.
func TestAttachedConnectionFollowsSchemaChanges(t *testing.T) {
	ctx := context.Background()
	tg := moverFleet(t, 300)
	src, dst := DemoShards[0], DemoShards[1]
	copyRange := func(low int64) (fleet.CopyReport, error) {
		return tg.CopyRangeVerified(ctx, src, dst, demoTables, fleet.KeyRange{Low: low, High: low + 10})
	}
	if _, err := copyRange(100); err != nil {
		t.Fatal(err)
	}
	// A column only the source has: its values would not be copied.
	if err := tg.ApplySQL(ctx, src, `ALTER TABLE customers ADD COLUMN vip INTEGER DEFAULT 1`); err != nil {
		t.Fatal(err)
	}
	var fe *fleet.Error
	if _, err := copyRange(110); !errors.As(err, &fe) || fe.Op != "verify batch [110, 120)" {
		t.Fatalf("copy with a column the target lacks: %v, want a failed verify", err)
	}
	if n, _ := tg.CountRange(ctx, dst, "customers", "id", fleet.KeyRange{Low: int64(110), High: int64(120)}); n != 0 {
		t.Fatalf("the failed verify left %d customers", n)
	}
	// Both have it: the copy carries it.
	if err := tg.ApplySQL(ctx, dst, `ALTER TABLE customers ADD COLUMN vip INTEGER DEFAULT 0`); err != nil {
		t.Fatal(err)
	}
	if rep, err := copyRange(110); err != nil || rep.Rows["customers"] != 10 {
		t.Fatalf("copy after both changed: %+v, %v", rep, err)
	}
	db, err := tg.db(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	var vip int
	if err := db.QueryRow(`SELECT count(*) FROM customers WHERE id >= 110 AND id < 120 AND vip = 1`).Scan(&vip); err != nil || vip != 10 {
		t.Fatalf("%d copied customers carry the source's vip column, want 10 (%v)", vip, err)
	}
}
