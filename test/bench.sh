#!/usr/bin/env bash
# `make bench`: every benchmark with its baseline measured in the same run.
# Prints Markdown tables (docs/BENCHMARKS.md records a run of this script).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "## Planning"
echo
echo "| benchmark | time/op | memory/op | allocs/op |"
echo "|---|---:|---:|---:|"
planner=$(go test -run '^$' -bench 'BenchmarkPlan100kRanges$' -benchmem -benchtime 5x ./planner)
awk '/^BenchmarkPlan/ { printf "| plan 100,000 ranges over 1,000 shards (10,000 moves) | %.0f ms | %.1f MiB | %d |\n", $3/1e6, $5/1048576, $7 }' <<<"$planner"
echo
echo "## The validate and plan commands on a 4 MB layout (100,000 ranges, 1,000 shards)"
echo
echo "| command | time/op (best of 3) | spread | memory/op | allocs/op | ratio to the planner alone |"
echo "|---|---:|---:|---:|---:|---:|"
base=$(awk '/^BenchmarkPlan/ { print $3 }' <<<"$planner")
# Three rounds each: the machine is shared, so the best and the spread say more than one figure.
go test -run '^$' -bench 'Command100kRanges$' -benchmem -benchtime 3x -count 3 ./cmd/fleetplan |
  awk -v base="$base" '/^Benchmark(Validate|Plan)Command/ {
    n = $1; t = $3
    if (!(n in best)) { order[++k] = n; worst[n] = t }
    if (!(n in best) || t < best[n]) { best[n] = t; mem[n] = $5; allocs[n] = $7 }
    if (t > worst[n]) worst[n] = t
  }
  END {
    for (i = 1; i <= k; i++) {
      n = order[i]
      name = (n ~ /Validate/) ? "fleetplan validate" : "fleetplan plan (empty fleet: 101,001 steps)"
      printf "| %s | %.0f ms | %.0f-%.0f ms | %.1f MiB | %d | %.1f× |\n", name, best[n]/1e6, best[n]/1e6, worst[n]/1e6, mem[n]/1048576, allocs[n], best[n]/base
    }
  }'
echo
echo "## Moving rows (local driver)"
echo
# Knobs: MOVE_BATCH (batch sizes), MOVE_ROUNDS, MOVE_RSS (row counts whose
# move's peak RSS is measured, each in a process of its own).
go run ./test/bench/movebench -header -batch "${MOVE_BATCH:-10,100,1000,5000}" -rounds "${MOVE_ROUNDS:-3}" \
  -rss "${MOVE_RSS:-100000,1000000}"
echo
echo "## Runner overhead (10,000 no-op steps, fsync'd journal) vs GNU make"
echo
go run ./test/bench/runnerbench -header
