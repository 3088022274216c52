// Command movebench measures end-to-end shard move throughput on the local
// driver against the in-engine limit, both in the same run on copies of the
// same SQLite files, at each batch size given (-batch 10,100,1000,5000), and
// prints a Markdown table with the ratios, the goals, and the fixed cost per
// batch: the least-squares slope of the move's time over its number of
// batches. With -rss it also moves each given number of rows in a process
// of its own and reports that process's peak resident set.
//
// End to end: plan and apply examples/shards/split.yaml (split [50000, +inf)
// at 75000, move the upper part to a new shard) through the engine and the
// runner, with offline/online per batch, checksums and source deletes.
// In-engine limit: one ATTACH + INSERT..SELECT + DELETE of the same rows
// between the same files, through the same SQLite driver.
package main
