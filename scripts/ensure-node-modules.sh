#!/usr/bin/env bash
# Installs the npm dependencies (exactly package-lock.json, no install scripts) when they are
# missing or older than the lock file, so `npm start` and `npm test` work on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
