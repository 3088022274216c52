package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/runner"
	_ "github.com/fleetplan/fleetplan/steps/shardmap" // the moves it runs
)

func main() {
	customers := flag.Int("customers", 100000, "customers in the demo fleet (3 orders each)")
	batch := flag.Int("batch", 5000, "move.batchSize (shardlets per batch)")
	header := flag.Bool("header", false, "print the table header first")
	rounds := flag.Int("rounds", 5, "rounds; each contender's best round counts (the machine is noisy)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "movebench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "movebench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*customers, *batch, *rounds, *header); err != nil {
		fmt.Fprintln(os.Stderr, "movebench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(customers, batch, rounds int, header bool) error {
	ctx := context.Background()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "movebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pristine := filepath.Join(dir, "pristine")
	t, err := local.CreateDemo(ctx, filepath.Join(pristine, "fleet"), local.DemoOptions{Customers: customers, Seed: 1})
	if err != nil {
		return err
	}
	t.Close()
	schema, err := os.ReadFile(filepath.Join(root, "examples", "shards", "schema.sql"))
	if err != nil {
		return err
	}
	plan, err := os.ReadFile(filepath.Join(root, "examples", "shards", "split.yaml"))
	if err != nil {
		return err
	}
	planText := strings.Replace(string(plan), "batchSize: 100,", fmt.Sprintf("batchSize: %d,", batch), 1)
	for name, content := range map[string]string{
		"fleetplan.yaml": "targets:\n  local: {driver: local, path: fleet}\n",
		"schema.sql":     string(schema), "split.yaml": planText,
	} {
		if err := os.WriteFile(filepath.Join(pristine, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	var bestE2E, bestBase time.Duration
	var rows int64
	for r := 0; r < rounds; r++ {
		e2e, base := filepath.Join(dir, fmt.Sprint("e2e", r)), filepath.Join(dir, fmt.Sprint("base", r))
		for _, to := range []string{e2e, base} {
			if out, err := exec.Command("cp", "-a", pristine, to).CombinedOutput(); err != nil {
				return fmt.Errorf("copy fleet: %v %s", err, out)
			}
		}
		n, d, err := endToEnd(ctx, e2e)
		if err != nil {
			return err
		}
		bn, bd, err := inEngine(ctx, base, string(schema))
		if err != nil {
			return err
		}
		if bn != n {
			return fmt.Errorf("the baseline moved %d rows, the plan %d", bn, n)
		}
		rows = n
		if bestE2E == 0 || d < bestE2E {
			bestE2E = d
		}
		if bestBase == 0 || bd < bestBase {
			bestBase = bd
		}
		os.RemoveAll(e2e)
		os.RemoveAll(base)
	}
	e2eRate := float64(rows) / bestE2E.Seconds()
	baseRate := float64(rows) / bestBase.Seconds()
	if header {
		fmt.Println("| benchmark | rows | fleetplan (best of rounds) | in-engine limit (best of rounds) | ratio |")
		fmt.Println("|---|---:|---:|---:|---:|")
	}
	fmt.Printf("| move [75000, +inf), batch %d, %d rounds | %d | %.0f rows/s (%.2fs) | %.0f rows/s (%.2fs) | %.2f |\n",
		batch, rounds, rows, e2eRate, bestE2E.Seconds(), baseRate, bestBase.Seconds(), e2eRate/baseRate)
	return nil
}

// endToEnd plans and applies split.yaml in ws through the engine and runner.
func endToEnd(ctx context.Context, e2e string) (int64, time.Duration, error) {

	// End to end through plan + runner.
	doc, diags := engine.LoadDocument(filepath.Join(e2e, "split.yaml"), "")
	if err := diags.Err(); err != nil {
		return 0, 0, err
	}
	target, err := engine.OpenTarget(ctx, doc.Config, "local")
	if err != nil {
		return 0, 0, err
	}
	defer target.Close()
	g, diags := engine.Plan(ctx, doc, target, planner.Options{})
	if err := diags.Err(); err != nil {
		return 0, 0, err
	}
	var rows int64
	for _, s := range g.Steps {
		rows += s.Estimate.Rows
	}
	start := time.Now()
	res, err := runner.Start(ctx, g, engine.RunOptions(doc.Config, target, nil, "movebench"))
	if err != nil {
		return 0, 0, err
	}
	if res.Status != runner.StatusDone {
		return 0, 0, fmt.Errorf("run ended %s: %s", res.Status, res.Reason)
	}
	return rows, time.Since(start), nil
}

// inEngine moves the same rows with one ATTACH + INSERT..SELECT + DELETE.
func inEngine(ctx context.Context, base, schema string) (int64, time.Duration, error) {

	// In-engine limit on the copy: create customers_2 with the schema, then
	// one ATTACH + INSERT..SELECT + DELETE per table.
	bt, err := local.Open(ctx, filepath.Join(base, "fleet"))
	if err != nil {
		return 0, 0, err
	}
	dst := fleet.Location{Server: "sql-1", Database: "customers_2"}
	if err := bt.CreateDatabase(ctx, dst); err != nil {
		return 0, 0, err
	}
	if err := bt.ApplySQL(ctx, dst, schema); err != nil {
		return 0, 0, err
	}
	srcPath, _ := bt.DatabasePath(ctx, fleet.Location{Server: "sql-1", Database: "customers_1"})
	dstPath, _ := bt.DatabasePath(ctx, dst)
	bt.Close()
	db, err := sql.Open("sqlite", "file:"+dstPath+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// The reference table arrives first in both contenders; not timed here.
	for _, q := range []string{`ATTACH DATABASE '` + srcPath + `' AS src`, `INSERT INTO main.regions SELECT * FROM src.regions`} {
		if _, err := db.Exec(q); err != nil {
			return 0, 0, fmt.Errorf("%s: %v", q, err)
		}
	}
	start := time.Now()
	var baseRows int64
	stmts := []string{
		`BEGIN IMMEDIATE`,
		`INSERT INTO main.customers SELECT * FROM src.customers WHERE id >= 75000`,
		`INSERT INTO main.orders SELECT * FROM src.orders WHERE customer_id >= 75000`,
		`DELETE FROM src.orders WHERE customer_id >= 75000`,
		`DELETE FROM src.customers WHERE id >= 75000`,
		`COMMIT`,
	}
	for i, q := range stmts {
		r, err := db.Exec(q)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %v", q, err)
		}
		if i == 1 || i == 2 {
			n, _ := r.RowsAffected()
			baseRows += n
		}
	}
	return baseRows, time.Since(start), nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}
