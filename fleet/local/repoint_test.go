package local

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
)

// MoveMappingOnline repoints an offline mapping and brings it online in one
// logged operation, keeping GSM and LSMs in agreement.
func TestMoveMappingOnline(t *testing.T) {
	ctx := context.Background()
	tg, err := CreateDemo(ctx, filepath.Join(t.TempDir(), "f"), DemoOptions{Customers: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	c1 := fleet.Location{Server: "sql-1", Database: "customers_1"}
	c0 := fleet.Location{Server: "sql-1", Database: "customers_0"}
	upper, err := tg.MappingForKey(ctx, "CustomerMap", []byte{0x80, 0, 0, 0, 0, 0, 0xc3, 0x50})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.MoveMappingOnline(ctx, "CustomerMap", upper.ID, c0); err == nil {
		t.Fatal("an online mapping was repointed")
	}
	off, err := tg.SetMappingOnline(ctx, "CustomerMap", upper.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := tg.MoveMappingOnline(ctx, "CustomerMap", off.ID, c0)
	if err != nil {
		t.Fatal(err)
	}
	if !moved.Online || !moved.Location.Equal(c0) || moved.ID == off.ID {
		t.Fatalf("moved mapping %+v: want online on %s with a new id", moved, c0)
	}
	// Already on the target but offline: only brought online.
	off, err = tg.SetMappingOnline(ctx, "CustomerMap", moved.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	again, err := tg.MoveMappingOnline(ctx, "CustomerMap", off.ID, c0)
	if err != nil || !again.Online || !again.Location.Equal(c0) {
		t.Fatalf("second move: %+v, %v", again, err)
	}
	l, err := tg.Observe(ctx, "CustomerMap")
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Maps[0].Differences; len(d) != 0 {
		t.Fatalf("GSM and LSM differ after the move: %+v", d)
	}
	for _, s := range l.Maps[0].Shards {
		if s.Shard.Location.Equal(c1) && s.Shard.Version != s.LSMVersion {
			t.Fatalf("source shard versions differ: GSM %s, LSM %s", s.Shard.Version, s.LSMVersion)
		}
	}
}
