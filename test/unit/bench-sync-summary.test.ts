/**
 * bench:sync's arithmetic, row by row: BENCH_FAULTS parsing, the per-fault figures, and the merge
 * of a filtered run into an earlier sync.json (its keys replace, the rest is kept, maxima again
 * over every fault; merging the same run twice changes nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultFields, mergeSummary, parseParts, parseSummary, PARTS, type FaultRun } from '../../bench/sync-summary.js';

const run = (over: Partial<FaultRun>): FaultRun => ({ mode: 'on', fault: 'host_lost', acked: 1000, lost: 0, tps: 9000, writeGapMs: 5000, splitBrainSamples: 0, loadAverage1m: 2, ...over });

test('BENCH_FAULTS: unset or empty is every part; a list keeps the known order; an unknown name is named', () => {
  assert.deepEqual(parseParts(undefined), [...PARTS]);
  assert.deepEqual(parseParts(' '), [...PARTS]);
  assert.deepEqual(parseParts('isolated_agents, host_lost'), ['host_lost', 'isolated_agents']);
  assert.throws(() => parseParts('host_lost,hostlost'), /unknown part\(s\) hostlost/);
});

test('per-fault figures: maxima, totals, medians, split-brain samples and failed runs per mode', () => {
  const runs = [run({ lost: 0, writeGapMs: 4000 }), run({ lost: 0, writeGapMs: 6000, splitBrainSamples: 2 }), run({ mode: 'off', lost: 30, acked: 500, writeGapMs: null }), run({ mode: 'off', lost: 70, acked: 700 }), run({ fault: 'kill', lost: 9 })];
  const f = faultFields('host_lost', runs, [{ mode: 'off', fault: 'host_lost' }]);
  assert.equal(f['sync_host_lost_lost_acked_rows_max'], 0);
  assert.equal(f['sync_host_lost_window_ms_median'], 5000);
  assert.equal(f['sync_host_lost_split_brain_samples'], 2);
  assert.equal(f['sync_host_lost_runs'], 2);
  assert.equal(f['async_host_lost_lost_acked_rows_max'], 70);
  assert.equal(f['async_host_lost_lost_acked_rows_total'], 100);
  assert.equal(f['async_host_lost_acked_rows_total'], 1200);
  assert.equal(f['async_host_lost_window_ms_median'], 5000, 'a run without a first write on the new master has no window');
  assert.equal(f['async_host_lost_failed_runs'], 1);
  assert.equal(faultFields('isolated_agents', runs, [])['sync_isolated_agents_lost_acked_rows_max'], null, 'no runs: no maximum, not 0');
});

test('merge: the new keys replace, the earlier ones stay, maxima are taken over every fault, idempotent', () => {
  const earlier = { runs: 10, sync_lost_acked_rows_max: 0, async_lost_acked_rows_max: 12053, async_lost_acked_rows_total: 75626, sync_kill_lost_acked_rows_max: 0, async_kill_lost_acked_rows_max: 113, async_frozen_walsenders_lost_acked_rows_max: 12053, sync_tps: 10750 };
  const current = faultFields('isolated_agents', [run({ fault: 'isolated_agents', lost: 1 }), run({ fault: 'isolated_agents', mode: 'off', lost: 20000, splitBrainSamples: 1 })], []);
  const merged = mergeSummary(earlier, current);
  assert.equal(merged['runs'], 10);
  assert.equal(merged['sync_tps'], 10750);
  assert.equal(merged['async_lost_acked_rows_total'], 75626, "the earlier run's total is its own");
  assert.equal(merged['sync_lost_acked_rows_max'], 1, 'a lost row in a new fault shows in the maximum');
  assert.equal(merged['async_lost_acked_rows_max'], 20000);
  assert.equal(merged['split_brain_samples'], 1);
  assert.deepEqual(mergeSummary(merged, current), merged);
});

test('an earlier sync.json that is not a flat object of numbers is refused, naming the key', () => {
  assert.throws(() => parseSummary('[1]'), /not a flat JSON object/);
  assert.throws(() => parseSummary('{"runs": "10"}'), /runs is not a number/);
  assert.deepEqual(parseSummary('{"runs": 10, "x": null}'), { runs: 10, x: null });
});
