#!/usr/bin/env bash
# The project's test command (`npm test`): installs missing system packages, type-checks,
# checks generated files for drift, then runs the unit and integration tests.
# `scripts/test.sh unit` or `scripts/test.sh integration` runs one tier only.
set -euo pipefail
cd "$(dirname "$0")/.."
tier="${1:-all}"

bash scripts/ensure-node-modules.sh
bash scripts/ensure-system-packages.sh
npx tsc -p tsconfig.json --noEmit
npx tsc -p dashboard/tsconfig.json
node scripts/build-dashboard.mjs
npx tsx scripts/gen-config-reference.ts --check
npx tsx scripts/gen-api-docs.ts --check
npx tsx scripts/check-doc-links.ts

if [[ "$tier" == all || "$tier" == unit ]]; then
  node --import tsx --test --test-reporter=spec test/unit/*.test.ts
fi
if [[ "$tier" == all || "$tier" == integration ]]; then
  # Several workers, each on a loopback subnet of its own (scripts/run-integration.sh).
  bash scripts/run-integration.sh
fi
