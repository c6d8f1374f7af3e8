#!/usr/bin/env bash
# `npm run chaos [-- --repeat N]`: the fault matrix (test/integration/chaos-*.test.ts) on real
# 3-node clusters, each scenario sampling every 50 ms which servers accept writes. Writes
# bench/results/chaos.json from the samplers' reports. `npm test` runs the same scenarios with
# their stated timings; this script adds the summary, and with --repeat N runs the matrix N times:
# the first with the stated timings, each further run with random timings under a fresh seed
# (HANDYREP_CHAOS_SEED, printed and kept in the reports so a failing run can be replayed).
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeat)
      [[ "${2:-}" =~ ^[1-9][0-9]?$ ]] || { echo "chaos: --repeat needs a number of runs from 1 to 99, got '${2:-}'" >&2; exit 2; }
      repeat="$2"; shift 2 ;;
    *) echo "chaos: unknown argument '$1' (usage: npm run chaos [-- --repeat N])" >&2; exit 2 ;;
  esac
done
bash scripts/ensure-node-modules.sh
bash scripts/ensure-system-packages.sh
results="$(mktemp -t handyrep-chaos.XXXXXX)"
trap 'rm -f "$results"' EXIT
started=$(date +%s)
status=0
for run in $(seq 1 "$repeat"); do
  seed=""
  if [[ "$run" -gt 1 ]]; then seed=$(( ($(date +%s%N) / 1000) % 2147483647 )); fi
  echo "chaos: run $run of $repeat${seed:+, random timings, HANDYREP_CHAOS_SEED=$seed}"
  HANDYREP_CHAOS_SEED="$seed" HANDYREP_CHAOS_RESULTS="$results" \
    node --import tsx --test --test-concurrency=1 --test-reporter=spec test/integration/chaos-*.test.ts || status=$?
done
npx tsx scripts/chaos-summary.ts "$results" "$(( $(date +%s) - started ))" "$status" "$repeat"
exit "$status"
