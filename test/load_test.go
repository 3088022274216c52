package test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/shardmap"
)

// The load test: while the demo split moves customers [75000, +inf) to a new
// shard, writer goroutines keep inserting orders and raising balances of
// random customers, routed through package shardmap, and the mover is
// killed with SIGKILL at seeded points and resumed. Afterwards every write
// is audited in the SQLite files: every acknowledged write exists exactly
// once, on the shard the map routes its key to, and every balance is its
// starting value plus the orders that exist for it.
//
// `make test` runs a small version; `make loadtest` the full one. The knobs
// are environment variables (make passes them through):
//
//	FLEETPLAN_LOAD_WRITERS    writer goroutines (small: 4, full: 8)
//	FLEETPLAN_LOAD_CUSTOMERS  customers the split moves (small: 2000, full: 25000)
//	FLEETPLAN_LOAD_KILLS      SIGKILLs of the mover in the killed run (small: 1, full: 3)
//	FLEETPLAN_LOAD_BATCH      the move's batch size (100, as examples/shards/split.yaml)
//	FLEETPLAN_LOAD_SEED       seed of the kill points and the writers' keys (1)
//	FLEETPLAN_LOAD_FAULTS     FLEETPLAN_FAULTS for the mover's last process (after the kills),
//	                          (small: an outage, move.copy:outage:500ms:5; full: none; "none": none)
//	FLEETPLAN_LOAD=full       the full defaults
type loadConfig struct {
	writers, moving, kills, batch int
	seed                          int64
	faults                        string
}

func loadKnobs(t *testing.T) loadConfig {
	t.Helper()
	c := loadConfig{writers: 4, moving: 2000, kills: 1, batch: 100, seed: 1}
	if os.Getenv("FLEETPLAN_LOAD") == "full" {
		c.writers, c.moving, c.kills = 8, 25000, 3
	}
	for name, p := range map[string]*int{"WRITERS": &c.writers, "CUSTOMERS": &c.moving, "KILLS": &c.kills, "BATCH": &c.batch} {
		if v := os.Getenv("FLEETPLAN_LOAD_" + name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				t.Fatalf("FLEETPLAN_LOAD_%s=%q: want a number", name, v)
			}
			*p = n
		}
	}
	if v := os.Getenv("FLEETPLAN_LOAD_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("FLEETPLAN_LOAD_SEED=%q: want a number", v)
		}
		c.seed = n
	}
	if os.Getenv("FLEETPLAN_LOAD") != "full" {
		c.faults = "move.copy:outage:500ms:5" // a failover of the target in the middle of the move
	}
	if v := os.Getenv("FLEETPLAN_LOAD_FAULTS"); v != "" {
		c.faults = v
	}
	if c.faults == "none" {
		c.faults = ""
	}
	if c.writers < 1 || c.moving < 1 || c.batch < 1 {
		t.Fatalf("load test knobs %+v: writers, customers and batch must be at least 1", c)
	}
	return c
}

func TestLoadDuringMove(t *testing.T) {
	c := loadKnobs(t)
	tmpl := newDemoWorkspace(t, splitAt+c.moving, c.batch)
	runs := map[string]loadConfig{"no kills": c}
	if c.kills > 0 {
		runs = map[string]loadConfig{fmt.Sprintf("%d kills", c.kills): c}
		if os.Getenv("FLEETPLAN_LOAD") == "full" {
			quiet := c
			quiet.kills = 0
			runs["no kills"] = quiet
		}
	}
	for name, rc := range runs {
		t.Run(name, func(t *testing.T) {
			ws := copyWorkspace(t, tmpl)
			lr := runLoad(t, ws, rc)
			lr.audit(t)
			t.Logf("load test (%d writers, %d customers moved in batches of %d, %d SIGKILLs of the mover%s): %s",
				rc.writers, rc.moving, rc.batch, lr.kills, map[bool]string{true: ", then " + rc.faults}[rc.faults != ""], lr.summary())
		})
	}
}

// splitAt is where examples/shards/split.yaml splits [50000, +inf).
const splitAt = 75000

// loadIDBase is above every order id of the demo data.
const loadIDBase = int64(1) << 40

// loadWrite is one write a writer made: an order of amount for customer key.
type loadWrite struct {
	id, key int64
	amount  float64
	acked   bool // InTx returned nil
	unknown bool // the outcome is unknown: the commit failed or the run ended during it
}

type loadRun struct {
	ws     string
	before *state
	// balances before any write, by customer.
	balances map[int64]float64
	// keep: checksums of the rows the writers never change.
	keep   map[string]string
	writes []loadWrite
	// waits are how long writes that found their key offline waited for it.
	waits   []time.Duration
	retries int64
	stats   shardmap.Stats
	kills   int
	elapsed time.Duration // the move, from the first apply to the last resume
	acked   int           // acknowledged during the move
	errs    []error
}

// untouched checksums the rows writers never change: customers without
// their balance, and the orders the demo made.
func untouched(t *testing.T, ws string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var custs, orders []string
	for _, name := range []string{"customers_0", "customers_1", "customers_2"} {
		p := shardDB(ws, name)
		if !exists(p) {
			continue
		}
		db := openDB(t, p)
		custs = append(custs, queryStrings(t, db, `SELECT quote(id)||quote(region_id)||quote(name)||quote(email)||quote(created_at) FROM customers`)...)
		orders = append(orders, queryStrings(t, db, fmt.Sprintf(`SELECT quote(id)||quote(customer_id)||quote(amount)||quote(note)||quote(created_at) FROM orders WHERE id < %d`, loadIDBase))...)
	}
	for name, rows := range map[string][]string{"customers": custs, "orders": orders} {
		sort.Strings(rows)
		out[name] = fmt.Sprintf("%d rows, %x", len(rows), fnv(strings.Join(rows, "\n")))
	}
	return out
}

func runLoad(t *testing.T, ws string, c loadConfig) *loadRun {
	t.Helper()
	lr := &loadRun{ws: ws, before: fleetState(t, ws), keep: untouched(t, ws), balances: map[int64]float64{}}
	db := openDB(t, shardDB(ws, "customers_1"))
	rows, err := db.Query(`SELECT id, balance FROM customers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var b float64
		if err := rows.Scan(&id, &b); err != nil {
			t.Fatal(err)
		}
		lr.balances[id] = b
	}
	rows.Close()

	ctx := context.Background()
	tg, err := local.Open(ctx, filepath.Join(ws, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r, err := shardmap.New(ctx, tg, local.DemoShardMap, shardmap.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// The writers: 9 in 10 writes go to customers the split moves, the rest
	// to customers of [50000, 75000), which stay.
	// Writers stop taking new writes when the move is done; the write each
	// has in flight runs to its end, so a write waiting for its key is
	// measured, not cut off.
	wctx := ctx
	var stopped atomic.Bool
	stop := func() { stopped.Store(true) }
	var moving atomic.Bool
	var acked atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < c.writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(c.seed*1000 + int64(w)))
			var mine []loadWrite
			var waits []time.Duration
			var retries int64
			var errs []error
			for seq := int64(0); !stopped.Load(); seq++ {
				k := int64(50000 + rng.Intn(splitAt-50000))
				if rng.Intn(10) != 0 {
					k = int64(splitAt + rng.Intn(c.moving))
				}
				wr := loadWrite{id: loadIDBase + int64(w)<<32 + seq, key: k, amount: float64(1 + rng.Intn(100))}
				var offlineSince time.Time
				p := shardmap.RetryPolicy{OnRetry: func(_ int, err error, _ time.Duration) {
					retries++
					if shardmap.IsOffline(err) && offlineSince.IsZero() {
						offlineSince = time.Now()
					}
				}}
				err := shardmap.Retry(wctx, p, func(ctx context.Context) error {
					return r.InTxOnce(ctx, k, func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, customer_id, amount, note, created_at) VALUES (?, ?, ?, 'load', datetime('now'))`,
							wr.id, k, wr.amount); err != nil {
							return err
						}
						res, err := tx.ExecContext(ctx, `UPDATE customers SET balance = balance + ? WHERE id = ?`, wr.amount, k)
						if err != nil {
							return err
						}
						if n, _ := res.RowsAffected(); n != 1 {
							return fmt.Errorf("customer %d is not on the shard its key was routed to (%d rows updated)", k, n)
						}
						return nil
					})
				})
				switch {
				case err == nil:
					wr.acked = true
					if moving.Load() {
						acked.Add(1)
					}
					if !offlineSince.IsZero() {
						waits = append(waits, time.Since(offlineSince))
					}
				default:
					wr.unknown = errors.Is(err, shardmap.ErrCommitOutcomeUnknown)
					errs = append(errs, fmt.Errorf("write %d (customer %d): %w", wr.id, k, err))
				}
				mine = append(mine, wr)
			}
			mu.Lock()
			lr.writes = append(lr.writes, mine...)
			lr.waits = append(lr.waits, waits...)
			lr.retries += retries
			lr.errs = append(lr.errs, errs...)
			mu.Unlock()
		}(w)
	}

	// The mover, killed at seeded points and resumed until it finishes.
	rng := rand.New(rand.NewSource(c.seed))
	batches := (c.moving + c.batch - 1) / c.batch
	movePoints := []string{"move.offline", "move.copy", "move.verify", "move.repoint", "move.delete", "shardmap.update-mapping"}
	start := time.Now()
	moving.Store(true)
	args := []string{"apply", "split.yaml", "--auto-approve"}
	for {
		env := []string{"FLEETPLAN_FAULTS_I_KNOW=yes"}
		var spec []string
		if c.faults != "" && lr.kills == c.kills {
			spec = append(spec, c.faults)
		}
		if lr.kills < c.kills {
			n := 1 + rng.Intn(max(1, batches/(c.kills+1)))
			spec = append(spec, fmt.Sprintf("%s:exit:%d", movePoints[rng.Intn(len(movePoints))], n))
		}
		if len(spec) > 0 {
			env = append(env, "FLEETPLAN_FAULTS="+strings.Join(spec, ","))
		}
		res := fleetplan(t, ws, env, args...)
		if killedBy(res.err, syscall.SIGKILL) {
			lr.kills++
			args = []string{"resume"}
			continue
		}
		if res.err != nil {
			stop()
			wg.Wait()
			t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), res.err, res.stdout, res.stderr)
		}
		break
	}
	moving.Store(false)
	lr.elapsed = time.Since(start)
	lr.acked = int(acked.Load())
	stop()
	wg.Wait()
	lr.stats = r.Stats()
	return lr
}

// audit checks every write against the files.
func (lr *loadRun) audit(t *testing.T) {
	t.Helper()
	for i, err := range lr.errs {
		if i == 5 {
			t.Errorf("... and %d more failed writes", len(lr.errs)-5)
			break
		}
		t.Errorf("a write failed: %v", err)
	}
	after := fleetState(t, lr.ws)
	// The layout the plan asks for, every row on the shard its key routes to,
	// GSM = LSM, nothing offline or locked; the writers changed balances and
	// added orders, so the checksums are compared below instead.
	b := *lr.before
	b.checksums = nil
	after.checkMoved(t, &b)
	for table, sum := range untouched(t, lr.ws) {
		if lr.keep[table] != sum {
			t.Errorf("%s that no writer changed: %s, before %s", table, sum, lr.keep[table])
		}
	}

	type row struct {
		key    int64
		amount float64
		shard  string
	}
	found := map[int64][]row{}
	balances := map[int64]float64{}
	for _, name := range []string{"customers_0", "customers_1", "customers_2"} {
		db := openDB(t, shardDB(lr.ws, name))
		rows, err := db.Query(fmt.Sprintf(`SELECT id, customer_id, amount FROM orders WHERE id >= %d`, loadIDBase))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var r row
			if err := rows.Scan(&id, &r.key, &r.amount); err != nil {
				t.Fatal(err)
			}
			r.shard = name
			found[id] = append(found[id], r)
		}
		rows.Close()
		rows, err = db.Query(`SELECT id, balance FROM customers WHERE id >= 50000`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var bal float64
			rows.Scan(&id, &bal)
			balances[id] = bal
		}
		rows.Close()
	}
	want := map[int64]float64{} // customer -> sum of orders that exist
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	attempted := map[int64]loadWrite{}
	for _, w := range lr.writes {
		attempted[w.id] = w
		got := found[w.id]
		switch {
		case w.acked && len(got) != 1:
			report("acknowledged write %d (customer %d) exists %d times: %v", w.id, w.key, len(got), got)
		case !w.acked && !w.unknown && len(got) != 0:
			report("write %d (customer %d) was refused but exists: %v", w.id, w.key, got)
		case len(got) > 1:
			report("write %d (customer %d) exists %d times: %v", w.id, w.key, len(got), got)
		}
		for _, r := range got {
			if r.key != w.key || r.amount != w.amount {
				report("write %d: found customer %d amount %v, wrote customer %d amount %v", w.id, r.key, r.amount, w.key, w.amount)
			}
			if db, _ := after.route(r.key); db != r.shard {
				report("write %d of customer %d is on %s, the map routes it to %s", w.id, r.key, r.shard, db)
			}
			want[r.key] += r.amount
		}
	}
	for id := range found {
		if _, ok := attempted[id]; !ok {
			report("order %d exists but no writer wrote it", id)
		}
	}
	for id, start := range lr.balances {
		if got, exp := balances[id], start+want[id]; math.Abs(got-exp) > 1e-6 {
			report("customer %d: balance %v, want %v (start %v + orders %v): an update was lost or applied twice", id, got, exp, start, want[id])
		}
	}
	if bad > 10 {
		t.Errorf("... %d problems in all", bad)
	}
	if lr.acked == 0 {
		t.Error("no write was acknowledged while the move ran")
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func (lr *loadRun) summary() string {
	sort.Slice(lr.waits, func(i, j int) bool { return lr.waits[i] < lr.waits[j] })
	acked := 0
	for _, w := range lr.writes {
		if w.acked {
			acked++
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("move %.2f s; %d writes acknowledged during it (%.0f/s), %d in all, all audited; "+
		"%d writes found their key offline, waited p50 %s, p99 %s, max %s; %d retries; "+
		"router: %d cache hits, %d global shard map reads, %d refreshes after a move, %d offline refusals",
		lr.elapsed.Seconds(), lr.acked, float64(lr.acked)/lr.elapsed.Seconds(), acked,
		len(lr.waits), ms(percentile(lr.waits, 0.5)), ms(percentile(lr.waits, 0.99)), ms(percentile(lr.waits, 1)), lr.retries,
		lr.stats.CacheHits, lr.stats.StoreLookups, lr.stats.Refreshes, lr.stats.Offline)
}
