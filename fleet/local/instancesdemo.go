package local

import (
	"context"

	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/fleet"
)

// The demo fleet's managed instances: mi-prod (General Purpose, 8 vCores,
// 256 GB, five databases of assorted sizes) and its disaster-recovery
// partner mi-dr in subnet-1, and pool-1 in its own subnet with two
// instances. The prod instances carry env labels for label selectors.
var DemoInstances = []fleet.ManagedInstance{
	{Name: "mi-prod", Tier: estimate.GeneralPurpose, VCores: 8, StorageGB: 256, Subnet: "subnet-1", Labels: map[string]string{"env": "prod", "role": "primary"},
		Databases: []fleet.InstanceDatabase{{Name: "sales", SizeGB: 180}, {Name: "inventory", SizeGB: 40}, {Name: "hr", SizeGB: 12}, {Name: "audit", SizeGB: 300}, {Name: "reporting", SizeGB: 6}}},
	{Name: "mi-dr", Tier: estimate.GeneralPurpose, VCores: 8, StorageGB: 256, Subnet: "subnet-1", Labels: map[string]string{"env": "prod", "role": "dr"},
		Databases: []fleet.InstanceDatabase{{Name: "sales", SizeGB: 180}, {Name: "inventory", SizeGB: 40}}},
	{Name: "mi-pool-a", Tier: estimate.GeneralPurpose, VCores: 4, StorageGB: 64, Pool: DemoPool, Subnet: "subnet-pool", Labels: map[string]string{"env": "test"},
		Databases: []fleet.InstanceDatabase{{Name: "app", SizeGB: 20}}},
	{Name: "mi-pool-b", Tier: estimate.GeneralPurpose, VCores: 4, StorageGB: 64, Pool: DemoPool, Subnet: "subnet-pool", Labels: map[string]string{"env": "test"},
		Databases: []fleet.InstanceDatabase{{Name: "app", SizeGB: 8}}},
}

// DemoPool is the demo's instance pool.
const DemoPool = "pool-1"

func createInstancesDemo(ctx context.Context, t *Target) error {
	if err := t.AddInstancePool(ctx, fleet.InstancePool{Name: DemoPool, Subnet: "subnet-pool", VCores: 16}); err != nil {
		return err
	}
	for _, mi := range DemoInstances {
		if err := t.AddManagedInstance(ctx, mi); err != nil {
			return err
		}
	}
	return nil
}
