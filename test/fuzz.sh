#!/usr/bin/env bash
# Runs every fuzz target for a short time: bash test/fuzz.sh [DURATION] (default 10s).
# Targets must never panic on any input.
set -euo pipefail
cd "$(dirname "$0")/.."
time="${1:-10s}"
targets=(
  "./plans FuzzDecode"
  "./plans/expression FuzzCompileExpression"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz $name ($pkg) for $time"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "$pkg"
done
