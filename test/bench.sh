#!/usr/bin/env bash
# `make bench`: every benchmark with its baseline measured in the same run.
# Prints Markdown tables (docs/BENCHMARKS.md records a run of this script).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "## Planning"
echo
echo "| benchmark | time/op | memory/op | allocs/op |"
echo "|---|---:|---:|---:|"
go test -run '^$' -bench 'BenchmarkPlan100kRanges$' -benchmem -benchtime 5x ./planner |
  awk '/^BenchmarkPlan/ { printf "| plan 100,000 ranges over 1,000 shards (10,000 moves) | %.0f ms | %.1f MiB | %d |\n", $3/1e6, $5/1048576, $7 }'
echo
echo "## Moving rows (local driver)"
echo
go run ./test/bench/movebench -header -batch "${MOVE_BATCH:-5000}"
echo
echo "## Runner overhead (10,000 no-op steps, fsync'd journal) vs GNU make"
echo
go run ./test/bench/runnerbench -header
