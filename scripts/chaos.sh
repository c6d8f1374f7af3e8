#!/usr/bin/env bash
# `npm run chaos`: the fault matrix (test/integration/chaos-*.test.ts) on real 3-node clusters, each
# scenario sampling every 50 ms which servers accept writes. Writes bench/results/chaos.json from
# the samplers' reports. `npm test` runs the same scenarios; this script adds the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-modules.sh
bash scripts/ensure-system-packages.sh
results="$(mktemp -t handyrep-chaos.XXXXXX)"
trap 'rm -f "$results"' EXIT
started=$(date +%s)
status=0
HANDYREP_CHAOS_RESULTS="$results" node --import tsx --test --test-concurrency=1 --test-reporter=spec test/integration/chaos-*.test.ts || status=$?
npx tsx scripts/chaos-summary.ts "$results" "$(( $(date +%s) - started ))" "$status"
exit "$status"
