#!/usr/bin/env bash
# Runs every fuzz target for a short time: bash test/fuzz.sh [DURATION] (default 10s).
# Targets must never panic on any input.
set -euo pipefail
cd "$(dirname "$0")/.."
time="${1:-10s}"
targets=(
  "./plans FuzzDecode"
  "./plans/expression FuzzCompileExpression"
  "./planfile FuzzParse"
  "./plans/expression FuzzExpressionBudgets"
  "./plans/expression FuzzBudgetsKeepResults"
  "./runner FuzzJournal"
)
# The key codec's round trips and raw decoding.
for f in $(grep -ho '^func Fuzz[A-Za-z0-9]*' fleet/shardkey/*_test.go | sed 's/^func //'); do
  targets+=("./fleet/shardkey $f")
done
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz $name ($pkg) for $time"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "$pkg"
done
