package shardmap_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"

	"github.com/fleetplan/fleetplan/fleet/local"
	"github.com/fleetplan/fleetplan/shardmap"
)

// Route writes of customers to their shards, retrying while a move holds a
// customer offline.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fleet")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// The demo fleet: CustomerMap sends [0, 50000) to customers_0 and
	// [50000, +inf) to customers_1.
	t, err := local.CreateDemo(ctx, dir, local.DemoOptions{Customers: 10})
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	r, err := shardmap.New(ctx, t, "CustomerMap", shardmap.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []int64{7, 75123} {
		err := r.InTx(ctx, id, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO customers (id, balance) VALUES (?, 0)
				ON CONFLICT (id) DO UPDATE SET balance = balance + 10`, id)
			return err
		})
		if err != nil {
			log.Fatal(err)
		}
		c, err := r.OpenForKey(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("customer %d lives on %s\n", id, c.Shard())
		c.Close()
	}
	// Output:
	// customer 7 lives on sql-1/customers_0
	// customer 75123 lives on sql-1/customers_1
}
