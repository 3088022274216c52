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
echo "| command | time/op | memory/op | allocs/op | ratio to the planner alone |"
echo "|---|---:|---:|---:|---:|"
base=$(awk '/^BenchmarkPlan/ { print $3 }' <<<"$planner")
go test -run '^$' -bench 'Command100kRanges$' -benchmem -benchtime 3x ./cmd/fleetplan |
  awk -v base="$base" '/^Benchmark(Validate|Plan)Command/ {
    name = ($1 ~ /Validate/) ? "fleetplan validate" : "fleetplan plan (empty fleet: 101,001 steps)"
    printf "| %s | %.0f ms | %.1f MiB | %d | %.1f× |\n", name, $3/1e6, $5/1048576, $7, $3/base }'
echo
echo "## Moving rows (local driver)"
echo
go run ./test/bench/movebench -header -batch "${MOVE_BATCH:-5000}"
echo
echo "## Runner overhead (10,000 no-op steps, fsync'd journal) vs GNU make"
echo
go run ./test/bench/runnerbench -header
