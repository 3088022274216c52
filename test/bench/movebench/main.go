package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/planner"
	"github.com/fleetplan/fleetplan/runner"
	_ "github.com/fleetplan/fleetplan/steps/generic"  // the plan's guards
	_ "github.com/fleetplan/fleetplan/steps/shardmap" // the moves it runs
)

// The split moves the customers from this key up (examples/shards/split.yaml).
const splitAt = 75000

// goals are the ratios to the in-engine limit the move aims at, by batch size.
var goals = map[int]float64{100: 0.4, 1000: 0.7, 5000: 0.8}

func main() {
	customers := flag.Int("customers", 100000, "customers in the demo fleet (3 orders each); the move takes those from 75000 up")
	batches := flag.String("batch", "10,100,1000,5000", "move.batchSize values (shardlets per batch), comma-separated")
	header := flag.Bool("header", false, "print the table header first")
	rounds := flag.Int("rounds", 3, "rounds per batch size; each contender's best round counts (the machine is noisy)")
	rss := flag.String("rss", "", "also measure the peak RSS of a move of each of these row counts (comma-separated, e.g. 100000,1000000), each in a process of its own")
	rssBatch := flag.Int("rss-batch", 1000, "batch size of the -rss moves")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	child := flag.String("child", "", "internal: apply split.yaml in this prepared workspace and print the seconds it took as JSON")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child); err != nil {
			fmt.Fprintln(os.Stderr, "movebench:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	sizes, err := intList(*batches)
	if err == nil && len(sizes) == 0 {
		err = fmt.Errorf("-batch: no batch size")
	}
	if err != nil {
		fail(err)
	}
	if err := run(os.Stdout, *customers, sizes, *rounds, *header); err != nil {
		pprof.StopCPUProfile()
		fail(err)
	}
	if *rss != "" {
		counts, err := intList(*rss)
		if err != nil {
			fail(err)
		}
		if err := peakRSS(os.Stdout, counts, *rssBatch, *header); err != nil {
			pprof.StopCPUProfile()
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "movebench:", err)
	os.Exit(1)
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// result is one batch size's best rounds.
type result struct {
	batch, batches int
	rows           int64
	e2e, base      time.Duration
}

func (r result) ratio() float64 { return r.base.Seconds() / r.e2e.Seconds() }

func run(w io.Writer, customers int, sizes []int, rounds int, header bool) error {
	ctx := context.Background()
	if customers <= splitAt {
		return fmt.Errorf("-customers must be more than %d: the split moves the customers from %d up", splitAt, splitAt)
	}
	dir, err := os.MkdirTemp("", "movebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pristine := filepath.Join(dir, "pristine")
	if err := prepare(ctx, pristine, customers); err != nil {
		return err
	}
	schema, err := os.ReadFile(filepath.Join(pristine, "schema.sql"))
	if err != nil {
		return err
	}
	var results []result
	for _, batch := range sizes {
		res := result{batch: batch, batches: (customers - splitAt + batch - 1) / batch}
		for r := 0; r < rounds; r++ {
			e2e, base := filepath.Join(dir, fmt.Sprint("e2e", r)), filepath.Join(dir, fmt.Sprint("base", r))
			for _, to := range []string{e2e, base} {
				if err := copyTree(pristine, to); err != nil {
					return err
				}
			}
			if err := setBatch(e2e, batch); err != nil {
				return err
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
			res.rows = n
			if res.e2e == 0 || d < res.e2e {
				res.e2e = d
			}
			if res.base == 0 || bd < res.base {
				res.base = bd
			}
			os.RemoveAll(e2e)
			os.RemoveAll(base)
		}
		results = append(results, res)
	}
	if header {
		fmt.Fprintln(w, "| batch size (shardlets) | batches | rows | fleetplan (best of rounds) | in-engine limit (best of rounds) | ratio | goal | (fleetplan − limit) / batch |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	}
	for _, r := range results {
		goal := "–"
		if g, ok := goals[r.batch]; ok {
			goal = fmt.Sprintf("≥ %.1f", g)
		}
		fmt.Fprintf(w, "| %d | %d | %d | %.0f rows/s (%.2f s) | %.0f rows/s (%.2f s) | %.2f | %s | %.2f ms |\n",
			r.batch, r.batches, r.rows, float64(r.rows)/r.e2e.Seconds(), r.e2e.Seconds(),
			float64(r.rows)/r.base.Seconds(), r.base.Seconds(), r.ratio(), goal,
			float64((r.e2e-r.base).Microseconds())/1000/float64(r.batches))
	}
	if fixed, rest, ok := fit(results); ok {
		fmt.Fprintf(w, "\nFixed cost per batch: %.2f ms (least-squares slope of the move's time over its number of batches, %d batch sizes, %d rounds each); "+
			"the rest of the move, %.2f s, does not depend on the batch size.\n", fixed*1000, len(results), rounds, rest)
	}
	return nil
}

// fit returns the slope and the intercept of the best times over the
// number of batches: the cost of one more batch, and what no batch count changes.
func fit(rs []result) (slope, intercept float64, ok bool) {
	if len(rs) < 2 {
		return 0, 0, false
	}
	var sx, sy, sxx, sxy float64
	n := float64(len(rs))
	for _, r := range rs {
		x, y := float64(r.batches), r.e2e.Seconds()
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	d := n*sxx - sx*sx
	if math.Abs(d) < 1e-9 {
		return 0, 0, false
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n, true
}

// prepare writes a workspace in dir: the demo fleet with customers, the
// schema, the split plan and a config naming the fleet "local".
func prepare(ctx context.Context, dir string, customers int) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	t, err := local.CreateDemo(ctx, filepath.Join(dir, "fleet"), local.DemoOptions{Customers: customers, Seed: 1})
	if err != nil {
		return err
	}
	t.Close()
	for _, name := range []string{"schema.sql", "split.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "shards", name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "fleetplan.yaml"), []byte("targets:\n  local: {driver: local, path: fleet}\n"), 0o644)
}

// setBatch sets the plan's move.batchSize.
func setBatch(dir string, batch int) error {
	p := filepath.Join(dir, "split.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	s := strings.Replace(string(b), "batchSize: 100,", fmt.Sprintf("batchSize: %d,", batch), 1)
	if s == string(b) && batch != 100 {
		return fmt.Errorf("%s: no batchSize: 100 to replace", p)
	}
	return os.WriteFile(p, []byte(s), 0o644)
}

func copyTree(from, to string) error {
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %v %s", from, err, out)
	}
	return nil
}

// endToEnd plans and applies split.yaml in ws through the engine and runner.
func endToEnd(ctx context.Context, ws string) (int64, time.Duration, error) {
	doc, diags := engine.LoadDocument(filepath.Join(ws, "split.yaml"), "")
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
	// Create customers_2 with the schema, not timed.
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
		fmt.Sprintf(`INSERT INTO main.customers SELECT * FROM src.customers WHERE id >= %d`, splitAt),
		fmt.Sprintf(`INSERT INTO main.orders SELECT * FROM src.orders WHERE customer_id >= %d`, splitAt),
		fmt.Sprintf(`DELETE FROM src.orders WHERE customer_id >= %d`, splitAt),
		fmt.Sprintf(`DELETE FROM src.customers WHERE id >= %d`, splitAt),
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

// peakRSS moves each row count in a process of its own and reports the
// process's peak resident set (getrusage ru_maxrss).
func peakRSS(w io.Writer, counts []int, batch int, header bool) error {
	ctx := context.Background()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "movebench-rss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if header {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| rows moved | batch size | move time | peak RSS of the moving process |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|")
	}
	for _, rows := range counts {
		// 1 customer and 3 orders per key above the split point.
		customers := splitAt + (rows+3)/4
		ws := filepath.Join(dir, strconv.Itoa(rows))
		if err := prepare(ctx, ws, customers); err != nil {
			return err
		}
		if err := setBatch(ws, batch); err != nil {
			return err
		}
		cmd := exec.Command(self, "-child", ws)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("move of %d rows: %v", rows, err)
		}
		var rep childReport
		if err := json.Unmarshal(out, &rep); err != nil {
			return fmt.Errorf("move of %d rows: %v (%s)", rows, err, out)
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return fmt.Errorf("no rusage on this system")
		}
		fmt.Fprintf(w, "| %d | %d | %.2f s | %.1f MiB |\n", rep.Rows, batch, rep.Seconds, float64(ru.Maxrss)/1024) // Linux: KiB
		os.RemoveAll(ws)
	}
	return nil
}

type childReport struct {
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

func runChild(ws string) error {
	n, d, err := endToEnd(context.Background(), ws)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childReport{Rows: n, Seconds: d.Seconds()})
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}
