#!/bin/sh
# What a replica runs while it holds the lease (fleetplan state lease pulled
# the runs the fleet keeps before starting it, and pushes them as they grow):
# first finish what a replica that died left, then apply the plans, again
# and again. Every apply is idempotent, so a plan already live is a no-op.
set -u
cd /work/plans
fleetplan resume || true
while :; do
  for plan in /work/plans/*.yaml; do
    [ "$(basename "$plan")" = fleetplan.yaml ] && continue
    fleetplan apply "$plan" --auto-approve || true
  done
  sleep "${FLEETPLAN_INTERVAL:-60}"
done
