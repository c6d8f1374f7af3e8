#!/usr/bin/env bash
# Runs the integration test files on HANDYREP_TEST_WORKERS workers (default 2) pulling from one
# queue, longest files first (test/integration/durations.tsv, seconds measured in CI; files not
# listed go first). Each worker has a loopback subnet of its own (127.0.2<worker>.x), so clusters,
# etcd members and iptables rules (which carry their owner's pid) never meet; demo-e2e's fixed
# addresses are waited for by the test itself. Each file's output is printed whole when it ends,
# with its time; the summary lists every failed file. Exit status 1 when any file failed.
set -euo pipefail
cd "$(dirname "$0")/.."

workers="${HANDYREP_TEST_WORKERS:-2}"
if ! [[ "$workers" =~ ^[1-8]$ ]]; then
  echo "HANDYREP_TEST_WORKERS must be a number from 1 to 8, got '$workers'" >&2
  exit 2
fi

work="$(mktemp -d /tmp/handyrep-integration.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The queue: known durations descending, unknown files first (they may be long).
declare -A seconds=()
while IFS=$'\t' read -r secs file; do
  [[ -n "${file:-}" && "$secs" =~ ^[0-9]+$ ]] && seconds["$file"]="$secs"
done < <(grep -v '^#' test/integration/durations.tsv 2>/dev/null || true)
for file in test/integration/*.test.ts; do
  name="$(basename "$file")"
  printf '%s\t%s\n' "${seconds[$name]:-100000}" "$file"
done | sort -t $'\t' -k1,1nr | cut -f2 > "$work/queue"
echo 0 > "$work/next"
total="$(wc -l < "$work/queue")"
echo "integration: $total files on $workers workers"

# Takes the next file from the queue (prints nothing when it is empty).
take() {
  (
    flock 9
    local next
    next="$(cat "$work/next")"
    echo $((next + 1)) > "$work/next"
    sed -n "$((next + 1))p" "$work/queue"
  ) 9>"$work/queue.lock"
}

worker() {
  local id="$1" subnet="127.0.2$1" file log start rc secs
  while file="$(take)" && [[ -n "$file" ]]; do
    log="$work/$(basename "$file").log"
    start="$SECONDS"
    rc=0
    HANDYREP_TEST_SUBNET="$subnet" node --import tsx --test --test-concurrency=1 --test-reporter=spec "$file" > "$log" 2>&1 || rc=$?
    secs=$((SECONDS - start))
    printf '%s\t%s\t%s\n' "$rc" "$secs" "$(basename "$file")" >> "$work/results"
    (
      flock 9
      echo "━━━ $(basename "$file") — worker $id, ${secs} s, $([[ $rc -eq 0 ]] && echo passed || echo "FAILED (exit $rc)")"
      cat "$log"
    ) 9>"$work/print.lock"
  done
}

pids=()
for ((i = 1; i <= workers; i++)); do
  worker "$i" &
  pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid"; done

# A failed file's failing tests with their errors, stack frames left out, cut to its first 4 and
# last 9 lines when longer (a message's start says what failed, its end often the output that
# explains it); the log's last lines when it has no list of failing tests (killed, or failed outside a test).
digest() {
  if grep -q '^✖ failing tests:' "$1"; then
    sed -n '/^✖ failing tests:/,$p' "$1" | grep -v -E '^ *at |^✖ failing tests:|^ *[{}]? *$|^test at |generatedMessage:|^ *code: |^ *operator: ' | cut -c1-200 |
      awk '{ line[NR] = $0 } END { for (i = 1; i <= NR; i++) if (NR <= 14 || i <= 4 || i > NR - 9) print line[i]; else if (i == 5) print "  …" }'
  else
    tail -n 6 "$1" | cut -c1-200
  fi
}

sum() { grep -h "^ℹ $1 " "$work"/*.log | awk '{ n += $3 } END { print n + 0 }'; }
echo
echo "integration summary: $(wc -l < "$work/results") files, tests $(sum tests), pass $(sum pass), fail $(sum fail), skipped $(sum skipped), in ${SECONDS} s"
echo "per-file seconds (for test/integration/durations.tsv):"
sort -t $'\t' -k2,2nr "$work/results" | awk -F '\t' '{ printf "%s\t%s\n", $2, $3 }'
failed="$(awk -F '\t' '$1 != 0 { print $3 }' "$work/results")"
if [[ "$(wc -l < "$work/results")" -ne "$total" ]]; then
  echo "integration: only $(wc -l < "$work/results") of $total files ran" >&2
  exit 1
fi
if [[ -n "$failed" ]]; then
  # CI's record keeps only the tail of the output: each failed file's failing tests and first error
  # lines again here, after the timings, so the reason survives without the whole log.
  echo "failure digest (whole outputs above):" >&2
  while IFS= read -r name; do
    echo "── $name" >&2
    digest "$work/$name.log" >&2
  done <<< "$failed"
  echo "FAILED files:" >&2
  echo "$failed" >&2
  exit 1
fi
