package local

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/estimate"
	"github.com/fleetplan/fleetplan/fleet"
)

// accuracyCase is one kind of operation the accuracy test repeats: next
// prepares the fleet for the i-th run and returns the request.
type accuracyCase struct {
	name string
	next func(t *testing.T, tg *Target, i int) fleet.InstanceRequest
}

// The databases of the instances that seed: mi-prod's sizes in the demo
// fleet (one per size band up to 512 GB).
var accuracyDatabases = []fleet.InstanceDatabase{{Name: "audit", SizeGB: 300}, {Name: "sales", SizeGB: 180}, {Name: "inventory", SizeGB: 40}, {Name: "hr", SizeGB: 12}, {Name: "reporting", SizeGB: 6}}

func accuracyCases() []accuracyCase {
	ctx := context.Background()
	add := func(t *testing.T, tg *Target, mi fleet.ManagedInstance) {
		t.Helper()
		must(t, tg.AddManagedInstance(ctx, mi))
	}
	toggle := func(i, a, b int) int {
		if i%2 == 0 {
			return b
		}
		return a
	}
	return []accuracyCase{
		{"create", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			return fleet.InstanceRequest{Instance: fmt.Sprintf("mi-c%03d", i), Type: fleet.InstanceCreate, Settings: fleet.InstanceSettings{VCores: 4, StorageGB: 64}}
		}},
		{"create in pool", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			return fleet.InstanceRequest{Instance: fmt.Sprintf("mi-cp%03d", i), Type: fleet.InstanceCreate,
				Settings: fleet.InstanceSettings{VCores: 4, StorageGB: 64, Pool: "pool-big", PoolSet: true, Subnet: "subnet-pool"}}
		}},
		{"update: compute scaling", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			return fleet.InstanceRequest{Instance: "mi-u", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: toggle(i, 8, 16)}}
		}},
		{"update: storage scaling", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			return fleet.InstanceRequest{Instance: "mi-u", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{StorageGB: toggle(i, 256, 512)}}
		}},
		{"update: to Business Critical (5 databases, 538 GB)", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			name := fmt.Sprintf("mi-b%03d", i)
			add(t, tg, fleet.ManagedInstance{Name: name, Tier: estimate.GeneralPurpose, VCores: 8, StorageGB: 1024, Databases: accuracyDatabases})
			return fleet.InstanceRequest{Instance: name, Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{Tier: estimate.BusinessCritical, VCores: 16}}
		}},
		{"update: Business Critical compute scaling (re-seeds)", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			if i == 0 {
				add(t, tg, fleet.ManagedInstance{Name: "mi-bc", Tier: estimate.BusinessCritical, VCores: 8, StorageGB: 1024, Databases: accuracyDatabases})
			}
			return fleet.InstanceRequest{Instance: "mi-bc", Type: fleet.InstanceUpdate, Settings: fleet.InstanceSettings{VCores: toggle(i, 8, 16)}}
		}},
		{"delete", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			name := fmt.Sprintf("mi-d%03d", i)
			add(t, tg, fleet.ManagedInstance{Name: name, VCores: 4, StorageGB: 64, Databases: accuracyDatabases[4:]})
			return fleet.InstanceRequest{Instance: name, Type: fleet.InstanceDelete}
		}},
		{"delete: last in its subnet", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			name := fmt.Sprintf("mi-l%03d", i)
			add(t, tg, fleet.ManagedInstance{Name: name, VCores: 4, StorageGB: 64, Subnet: "subnet-" + name})
			return fleet.InstanceRequest{Instance: name, Type: fleet.InstanceDelete}
		}},
		{"move into pool", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			name := fmt.Sprintf("mi-m%03d", i)
			add(t, tg, fleet.ManagedInstance{Name: name, VCores: 4, StorageGB: 64, Subnet: "subnet-pool"})
			return fleet.InstanceRequest{Instance: name, Type: fleet.InstanceMoveIntoPool, Settings: fleet.InstanceSettings{Pool: "pool-big", PoolSet: true}}
		}},
		{"move out of pool", func(t *testing.T, tg *Target, i int) fleet.InstanceRequest {
			name := fmt.Sprintf("mi-o%03d", i)
			add(t, tg, fleet.ManagedInstance{Name: name, VCores: 4, StorageGB: 64, Pool: "pool-big", Subnet: "subnet-pool"})
			return fleet.InstanceRequest{Instance: name, Type: fleet.InstanceMoveOutOfPool, Settings: fleet.InstanceSettings{PoolSet: true}}
		}},
	}
}

// accuracyRun is one operation: what the preview estimated and what it took
// (modelled time, measured on the fleet in scaled time).
type accuracyRun struct {
	typical, p95, actual time.Duration
}

// TestEstimateAccuracy runs every kind of instance operation many times on
// the local fleet, in scaled time, and compares each estimate (the one the
// planner shows: estimate.RequestFor of the live instance, then
// estimate.NewModel) with how long the operation took. Issue 12: the median
// absolute error of the typical is within ±25%, and the p95 covers at least
// 90% of the operations.
//
// FLEETPLAN_ACCURACY_OPS sets the runs per kind (default 30) and
// FLEETPLAN_ACCURACY_SEED the fleet's seed (default 1); `make accuracy`
// runs it with a larger count and prints the table docs/BENCHMARKS.md holds.
func TestEstimateAccuracy(t *testing.T) {
	n := envInt(t, "FLEETPLAN_ACCURACY_OPS", 30)
	seed := envInt(t, "FLEETPLAN_ACCURACY_SEED", 1)
	ctx := context.Background()
	tg, err := Init(ctx, t.TempDir(), InitOptions{})
	must(t, err)
	t.Cleanup(func() { tg.Close() })
	tg.SetTimeScale(1.0 / 3_600_000) // an hour takes a millisecond
	tg.SetInstanceSeed(uint64(seed))
	must(t, tg.AddInstancePool(ctx, fleet.InstancePool{Name: "pool-big", Subnet: "subnet-pool", VCores: 100000}))
	must(t, tg.AddManagedInstance(ctx, fleet.ManagedInstance{Name: "mi-keep", VCores: 4, StorageGB: 64}))
	must(t, tg.AddManagedInstance(ctx, fleet.ManagedInstance{Name: "mi-u", VCores: 8, StorageGB: 256}))

	var table strings.Builder
	fmt.Fprintf(&table, "| operation | runs | estimate typical / p95 | observed median / p95 | median abs. error of typical | median error (bias) | within p95 |\n|---|---:|---|---|---:|---:|---:|\n")
	for _, c := range accuracyCases() {
		var runs []accuracyRun
		for i := range n {
			req := c.next(t, tg, i)
			req.ClientRequestID = fmt.Sprintf("accuracy/%s/%d", c.name, i)
			est := estimateFor(t, tg, req)
			op, err := tg.BeginInstanceOperation(ctx, req)
			must(t, err)
			end, _ := wait(t, tg, op.ID)
			if end.State != fleet.OpSucceeded {
				t.Fatalf("%s #%d: %+v", c.name, i, end)
			}
			runs = append(runs, accuracyRun{typical: est.Typical, p95: est.P95, actual: end.Elapsed})
		}
		s := summarise(runs)
		fmt.Fprintf(&table, "| %s | %d | %s / %s | %s / %s | %.0f%% | %+.0f%% | %.0f%% |\n", c.name, len(runs),
			estimate.Human(s.typical), estimate.Human(s.p95), estimate.Human(s.observedMedian), estimate.Human(s.observedP95),
			100*s.medianAbsErr, 100*s.medianErr, 100*s.covered)
		if s.medianAbsErr > 0.25 {
			t.Errorf("%s: median absolute error of the typical is %.0f%%, over 25%%", c.name, 100*s.medianAbsErr)
		}
		if s.covered < 0.90 {
			t.Errorf("%s: the p95 covers %.0f%% of the operations, under 90%%", c.name, 100*s.covered)
		}
	}
	t.Logf("%d runs per operation, seed %d:\n%s", n, seed, table.String())
}

// estimateFor is the planner's estimate of req on the fleet as it stands.
func estimateFor(t *testing.T, tg *Target, req fleet.InstanceRequest) estimate.Estimate {
	t.Helper()
	ctx := context.Background()
	instances, err := tg.ManagedInstances(ctx)
	must(t, err)
	pools, err := tg.InstancePools(ctx)
	must(t, err)
	var cur *fleet.ManagedInstance
	for i := range instances {
		if strings.EqualFold(instances[i].Name, req.Instance) {
			cur = &instances[i]
		}
	}
	typ := estimate.Type(req.Type)
	m, err := estimate.NewModel(estimate.RequestFor(typ, cur, req.Settings, typ == estimate.Delete && estimate.LastInSubnet(req.Instance, instances, pools)))
	must(t, err)
	return m.Estimate()
}

type accuracySummary struct {
	typical, p95                     time.Duration // the estimates (the median of them, when they differ)
	observedMedian, observedP95      time.Duration
	medianAbsErr, medianErr, covered float64
}

func summarise(runs []accuracyRun) accuracySummary {
	var errs, abs []float64
	var typs, p95s, actual []time.Duration
	covered := 0
	for _, r := range runs {
		e := float64(r.actual-r.typical) / float64(r.typical)
		errs, abs = append(errs, e), append(abs, math.Abs(e))
		typs, p95s, actual = append(typs, r.typical), append(p95s, r.p95), append(actual, r.actual)
		if r.actual <= r.p95 {
			covered++
		}
	}
	return accuracySummary{
		typical: quantile(typs, 0.5), p95: quantile(p95s, 0.5),
		observedMedian: quantile(actual, 0.5), observedP95: quantile(actual, 0.95),
		medianAbsErr: quantileF(abs, 0.5), medianErr: quantileF(errs, 0.5),
		covered: float64(covered) / float64(len(runs)),
	}
}

// quantile is the nearest-rank quantile of ds.
func quantile[T time.Duration | float64](ds []T, q float64) T {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func quantileF(fs []float64, q float64) float64 { return quantile(fs, q) }

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
