package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/runner"
)

func main() {
	customers := flag.Int("customers", 100000, "customers in the demo fleet (3 orders each)")
	batch := flag.Int("batch", 5000, "move.batchSize (shardlets per batch)")
	header := flag.Bool("header", false, "print the table header first")
	flag.Parse()
	if err := run(*customers, *batch, *header); err != nil {
		fmt.Fprintln(os.Stderr, "movebench:", err)
		os.Exit(1)
	}
}

func run(customers, batch int, header bool) error {
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
	e2e, base := filepath.Join(dir, "e2e"), filepath.Join(dir, "base")
	t, err := local.CreateDemo(ctx, filepath.Join(e2e, "fleet"), local.DemoOptions{Customers: customers, Seed: 1})
	if err != nil {
		return err
	}
	t.Close()
	if out, err := exec.Command("cp", "-a", e2e, base).CombinedOutput(); err != nil {
		return fmt.Errorf("copy fleet: %v %s", err, out)
	}
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
		if err := os.WriteFile(filepath.Join(e2e, name), []byte(content), 0o644); err != nil {
			return err
		}
	}

	// End to end through plan + runner.
	doc, diags := engine.LoadDocument(filepath.Join(e2e, "split.yaml"), "")
	if err := diags.Err(); err != nil {
		return err
	}
	target, err := engine.OpenTarget(ctx, doc.Config, "local")
	if err != nil {
		return err
	}
	g, diags := engine.Plan(ctx, doc, target, planner.Options{})
	if err := diags.Err(); err != nil {
		return err
	}
	var rows int64
	for _, s := range g.Steps {
		rows += s.Estimate.Rows
	}
	start := time.Now()
	res, err := runner.Start(ctx, g, engine.RunOptions(doc.Config, target, g, nil, "movebench"))
	if err != nil {
		return err
	}
	e2eTime := time.Since(start)
	target.Close()
	if res.Status != runner.StatusDone {
		return fmt.Errorf("run ended %s: %s", res.Status, res.Reason)
	}

	// In-engine limit on the copy: create customers_2 with the schema, then
	// one ATTACH + INSERT..SELECT + DELETE per table.
	bt, err := local.Open(ctx, filepath.Join(base, "fleet"))
	if err != nil {
		return err
	}
	dst := fleet.Location{Server: "sql-1", Database: "customers_2"}
	if err := bt.CreateDatabase(ctx, dst); err != nil {
		return err
	}
	if err := bt.ApplySQL(ctx, dst, string(schema)); err != nil {
		return err
	}
	srcPath, _ := bt.DatabasePath(ctx, fleet.Location{Server: "sql-1", Database: "customers_1"})
	dstPath, _ := bt.DatabasePath(ctx, dst)
	bt.Close()
	db, err := sql.Open("sqlite", "file:"+dstPath+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// The reference table arrives first in both contenders; not timed here.
	for _, q := range []string{`ATTACH DATABASE '` + srcPath + `' AS src`, `INSERT INTO main.regions SELECT * FROM src.regions`} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %v", q, err)
		}
	}
	start = time.Now()
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
			return fmt.Errorf("%s: %v", q, err)
		}
		if i == 1 || i == 2 {
			n, _ := r.RowsAffected()
			baseRows += n
		}
	}
	baseTime := time.Since(start)
	if baseRows != rows {
		return fmt.Errorf("the baseline moved %d rows, the plan %d", baseRows, rows)
	}
	e2eRate := float64(rows) / e2eTime.Seconds()
	baseRate := float64(baseRows) / baseTime.Seconds()
	if header {
		fmt.Println("| benchmark | rows | fleetplan | in-engine limit | ratio |")
		fmt.Println("|---|---:|---:|---:|---:|")
	}
	fmt.Printf("| move [75000, +inf), batch %d | %d | %.0f rows/s (%.2fs) | %.0f rows/s (%.2fs) | %.2f |\n",
		batch, rows, e2eRate, e2eTime.Seconds(), baseRate, baseTime.Seconds(), e2eRate/baseRate)
	return nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}
