#!/usr/bin/env bash
# The demo behind `make demo`: create the embedded demo fleet, plan and apply a
# real shard move, and show the layout before and after. Usage: demo.sh BIN DIR
set -euo pipefail
bin=$(realpath "$1")
dir=$2
cd "$(dirname "$0")"   # examples/: fleetplan.yaml here points at ../.demo/fleet

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Validate every example plan"
"$bin" validate .

step "Create the demo fleet in $dir/fleet (2 shards, 100,000 customers, 300,000 orders)"
rm -rf "$dir/fleet" .fleetplan
mkdir -p "$dir"
"$bin" fleet init --demo "$dir/fleet"

step "Live layout before"
"$bin" layout --target local --shard-map CustomerMap

step "Plan: split [50000, +inf) at 75000 and move the upper part to a new shard customers_2"
"$bin" plan shards/split.yaml

step "Apply it"
"$bin" apply shards/split.yaml --auto-approve

step "Live layout after"
"$bin" layout --target local --shard-map CustomerMap

step "Routing: keys 49999, 50000 and 75000"
for k in 49999 50000 75000; do "$bin" route "$k" --target local --shard-map CustomerMap; done

step "Plan again: nothing left to do"
"$bin" plan shards/split.yaml --detailed-exitcode

step "The same files, read with sqlite3 (if installed)"
if command -v sqlite3 >/dev/null; then
  for db in customers_0 customers_1 customers_2; do
    printf '%s: ' "$db"
    sqlite3 "$dir/fleet/sql-1/$db.db" "select count(*) || ' customers, ' || (select count(*) from orders) || ' orders' from customers"
  done
fi

step "Rolling upgrade of the contoso app: what serves now"
"$bin" route --profile contoso --target local

step "The built-in upgrade templates (uses: builtin:NAME)"
"$bin" templates

step "Plan a V2 upgrade whose script fails half-way (one region, option 1)"
"$bin" plan upgrades/contoso-v2-broken.yaml

step "Apply it: the script fails; production is read-write again at once, staging is kept for analysis"
if "$bin" apply upgrades/contoso-v2-broken.yaml --auto-approve; then
  echo "unexpected: the broken upgrade succeeded" >&2
  exit 1
fi
"$bin" route --profile contoso --target local

step "Its status says how to remove the kept staging parts"
"$bin" status

step "Plan the real V2 upgrade (geo-replicated DR, option 2): it removes the kept staging first; read-only window, production steps, rollback after each point of no return"
"$bin" plan upgrades/contoso-v2.yaml

step "Apply it"
"$bin" apply upgrades/contoso-v2.yaml --auto-approve
"$bin" route --profile contoso --target local

step "Plan again: nothing left to do"
"$bin" plan upgrades/contoso-v2.yaml --detailed-exitcode

if command -v sqlite3 >/dev/null; then
  step "schema_version in V2 and in its backup-region copy, read with sqlite3"
  for db in contoso-2/contoso contoso-dr/contoso; do
    printf '%s: ' "$db"
    sqlite3 "$dir/fleet/$db.db" "select version from schema_version"
  done
fi

step "Managed instances: preview scaling mi-prod to Business Critical (phases, seeding on 8 channels, timeline)"
"$bin" plan instances/mi-prod-bc.yaml --format markdown

step "Apply a storage change across the env=prod instances, two at a time, in scaled time (an hour takes a second)"
"$bin" apply instances/storage-rollout.yaml --auto-approve --time-scale 1/3600

step "Recovery: a geo-failover moves every database of sql-1 to sql-2; the global shard map still names sql-1"
"$bin" fleet simulate geo-failover --target local --server sql-1 --to sql-2

step "Doctor finds it (exit 2) and writes the recovery plan"
set +e
"$bin" doctor --target local --write-plan "$dir/after-failover.yaml"
code=$?
set -e
if [ "$code" -ne 2 ]; then echo "unexpected: doctor exited $code, want 2 (findings)" >&2; exit 1; fi
cat "$dir/after-failover.yaml"

step "Apply examples/recovery/after-failover.yaml (the same plan: detach, attach at sql-2, detect, resolve, verify for each shard)"
"$bin" apply recovery/after-failover.yaml --auto-approve

step "Doctor again: healthy"
"$bin" doctor --target local

step "Routing after the recovery: keys 49999, 50000 and 75000"
for k in 49999 50000 75000; do "$bin" route "$k" --target local --shard-map CustomerMap; done

if command -v sqlite3 >/dev/null; then
  step "The global shard map, read with sqlite3: every shard on sql-2"
  sqlite3 "$dir/fleet/sql-2/smm.db" "select ServerName || '/' || DatabaseName from __ShardManagement_ShardsGlobal order by DatabaseName"
  bad=$(sqlite3 "$dir/fleet/sql-2/smm.db" "select count(*) from __ShardManagement_ShardsGlobal where ServerName <> 'sql-2'")
  if [ "$bad" -ne 0 ]; then echo "unexpected: $bad shards still on sql-1" >&2; exit 1; fi
fi
