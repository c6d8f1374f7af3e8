/**
 * The pure failover engine over a table of snapshots: whether the master counts as failed
 * (multi-vantage detection), and which replica is chosen or why none is (selection plugins).
 * Inputs are deep-frozen: a decision never mutates its snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeMasterFailure, type VantageReport } from '../../src/engine/master-failure.js';
import type { CandidateFacts, RefusalCode } from '../../src/engine/selection.js';
import { selectReplicaFurthestAhead } from '../../src/plugins/select/select_replica_furthest_ahead.js';
import { selectReplicaPriority } from '../../src/plugins/select/select_replica_priority.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// ---- detection ------------------------------------------------------------------------------

const v = (replica: string, probe: VantageReport['probe'], wal: VantageReport['walReceiver'] = null): VantageReport => ({ replica, probe, probeDetail: probe, walReceiver: wal });
const streamingAge = (age: number) => ({ streaming: true, lastMessageAgeSeconds: age });
const stopped = { streaming: false, lastMessageAgeSeconds: null };

type DetectionRow = [label: string, controllerReached: boolean, vantage: VantageReport[], expected: 'failed' | 'ambiguous' | 'healthy', reason: RegExp];

const DETECTION: DetectionRow[] = [
  ['controller reaches the master', true, [v('paul', 'no_answer')], 'healthy', /controller reaches/],
  ['nobody sees it, both replicas asked', false, [v('paul', 'no_answer', stopped), v('george', 'no_answer', stopped)], 'failed', /neither the controller nor paul, george/],
  ['one replica probe sees it', false, [v('paul', 'sees'), v('george', 'no_answer')], 'ambiguous', /paul \(probe/],
  ['a recent WAL message counts as seeing', false, [v('paul', 'no_answer', streamingAge(0.5))], 'ambiguous', /WAL received 0\.5 s ago/],
  ['an old WAL message does not count', false, [v('paul', 'no_answer', streamingAge(9))], 'failed', /neither/],
  ['streaming but age unknown does not count', false, [v('paul', 'no_answer', { streaming: true, lastMessageAgeSeconds: null })], 'failed', /neither/],
  ['not streaming with a fresh timestamp does not count', false, [v('paul', 'no_answer', { streaming: false, lastMessageAgeSeconds: 0.1 })], 'failed', /neither/],
  ['no replica at all', false, [], 'ambiguous', /no replica to ask/],
  ['replicas cannot be asked at all', false, [v('paul', 'unknown'), v('george', 'unknown')], 'ambiguous', /cannot be asked/],
  ['probe unknown but WAL receiver readable and stale', false, [v('paul', 'unknown', stopped)], 'failed', /paul/],
  ['probe unknown, WAL receiver recent', false, [v('paul', 'unknown', streamingAge(1))], 'ambiguous', /WAL received/],
  ['one sees, one unknown', false, [v('paul', 'sees'), v('george', 'unknown')], 'ambiguous', /paul/],
  ['one does not see, one unknown', false, [v('paul', 'no_answer'), v('george', 'unknown')], 'failed', /neither the controller nor paul/],
  ['threshold is inclusive', false, [v('paul', 'no_answer', streamingAge(3))], 'ambiguous', /WAL received 3\.0 s/],
];

test(`master failure detection: ${DETECTION.length} snapshots`, () => {
  for (const [label, reached, vantage, expected, reason] of DETECTION) {
    const verdict = judgeMasterFailure(reached, deepFreeze(vantage), 3);
    const got = verdict.failed ? 'failed' : verdict.ambiguous ? 'ambiguous' : 'healthy';
    assert.equal(got, expected, label);
    assert.match(verdict.reason, reason, label);
  }
});

// ---- selection ------------------------------------------------------------------------------

function c(name: string, over: Partial<CandidateFacts> = {}): CandidateFacts {
  return {
    name,
    enabled: true,
    role: 'replica',
    status: 'healthy',
    failoverPriority: 999,
    nofailover: false,
    reachable: true,
    inRecovery: true,
    receiveLsn: '0/5000000',
    replayLsn: '0/5000000',
    replayLagBytes: 0,
    lagMb: 0,
    lagLimitMb: 100,
    ...over,
  };
}

type SelectionRow = [label: string, plugin: 'ahead' | 'priority', candidates: CandidateFacts[], order: string[], refusals: Record<string, RefusalCode>, maxReplayLagMb?: number];

const SELECTION: SelectionRow[] = [
  ['most WAL received wins', 'ahead', [c('paul', { receiveLsn: '0/4000000' }), c('george', { receiveLsn: '0/6000000' })], ['george', 'paul'], {}],
  ['64-bit LSN comparison', 'ahead', [c('paul', { receiveLsn: '0/FFFFFFFF' }), c('george', { receiveLsn: '1/0' })], ['george', 'paul'], {}],
  ['priority breaks ties', 'ahead', [c('paul', { failoverPriority: 5 }), c('george', { failoverPriority: 2 })], ['george', 'paul'], {}],
  ['name breaks full ties', 'ahead', [c('paul'), c('george')], ['george', 'paul'], {}],
  ['priority plugin: priority leads', 'priority', [c('paul', { failoverPriority: 1, receiveLsn: '0/1000000' }), c('george', { failoverPriority: 2, receiveLsn: '0/9000000' })], ['paul', 'george'], {}],
  ['priority plugin: LSN breaks ties', 'priority', [c('paul', { receiveLsn: '0/1000000' }), c('george', { receiveLsn: '0/9000000' })], ['george', 'paul'], {}],
  ['disabled refused', 'ahead', [c('paul', { enabled: false }), c('george')], ['george'], { paul: 'disabled' }],
  ['nofailover refused', 'ahead', [c('paul', { nofailover: true }), c('george')], ['george'], { paul: 'nofailover' }],
  ['priority 0 means never', 'ahead', [c('paul', { failoverPriority: 0 }), c('george')], ['george'], { paul: 'priority_zero' }],
  ['unreachable refused', 'ahead', [c('paul', { reachable: false }), c('george')], ['george'], { paul: 'unreachable' }],
  ['not in recovery refused', 'ahead', [c('paul', { inRecovery: false }), c('george')], ['george'], { paul: 'not_in_recovery' }],
  ['down status refused', 'ahead', [c('paul', { status: 'down' }), c('george')], ['george'], { paul: 'status' }],
  ['unavailable status refused', 'ahead', [c('paul', { status: 'unavailable' }), c('george')], ['george'], { paul: 'status' }],
  ['unknown status refused', 'ahead', [c('paul', { status: 'unknown' }), c('george')], ['george'], { paul: 'status' }],
  ['warning status allowed', 'ahead', [c('paul', { status: 'warning' })], ['paul'], {}],
  ['lagged status allowed when within limits', 'ahead', [c('paul', { status: 'lagged', lagMb: 1 })], ['paul'], {}],
  ['over lag_limit refused', 'ahead', [c('paul', { lagMb: 400 }), c('george')], ['george'], { paul: 'lag_limit' }],
  ['replay lag over max_replay_lag refused', 'ahead', [c('paul', { replayLagBytes: 40 * 1048576 }), c('george')], ['george'], { paul: 'replay_lag' }, 16],
  ['replay lag under max_replay_lag allowed', 'ahead', [c('paul', { replayLagBytes: 8 * 1048576 })], ['paul'], {}, 16],
  ['no WAL position refused', 'ahead', [c('paul', { receiveLsn: null }), c('george')], ['george'], { paul: 'no_wal_position' }],
  ['garbage WAL position refused', 'ahead', [c('paul', { receiveLsn: 'x/y' }), c('george')], ['george'], { paul: 'no_wal_position' }],
  ['a master-role server is no candidate', 'ahead', [c('john', { role: 'master' }), c('george')], ['george'], { john: 'not_replica' }],
  ['a proxy is no candidate', 'ahead', [c('bouncer', { role: 'pgbouncer' })], [], { bouncer: 'not_replica' }],
  ['every replica refused: empty order', 'ahead', [c('paul', { lagMb: 400 }), c('george', { enabled: false })], [], { paul: 'lag_limit', george: 'disabled' }],
  ['no replicas at all', 'ahead', [], [], {}],
  ['three candidates ordered', 'ahead', [c('a', { receiveLsn: '0/3000000' }), c('b', { receiveLsn: '0/1000000' }), c('d', { receiveLsn: '0/2000000' })], ['a', 'd', 'b'], {}],
  ['the furthest ahead may be refused for lag', 'ahead', [c('paul', { receiveLsn: '0/9000000', lagMb: 500 }), c('george', { receiveLsn: '0/1000000' })], ['george'], { paul: 'lag_limit' }],
  ['first refusal reason wins (disabled before lag)', 'ahead', [c('paul', { enabled: false, lagMb: 500 })], [], { paul: 'disabled' }],
];

test(`candidate selection: ${SELECTION.length} snapshots`, () => {
  for (const [label, pluginName, candidates, order, refusals, maxReplayLagMb] of SELECTION) {
    const plugin = pluginName === 'ahead' ? selectReplicaFurthestAhead : selectReplicaPriority;
    const result = plugin.select(deepFreeze({ candidates, maxReplayLagMb: maxReplayLagMb ?? 16 }));
    assert.deepEqual(result.order, order, label);
    assert.deepEqual(Object.fromEntries(result.refusals.map((r) => [r.name, r.code])), refusals, label);
    for (const r of result.refusals) assert.ok(r.reason.startsWith(r.name), `${label}: reason names the server: ${r.reason}`);
  }
});

test('refusal texts read as an operator expects', () => {
  const result = selectReplicaFurthestAhead.select({ candidates: [c('paul', { lagMb: 40, lagLimitMb: 16 }), c('george', { enabled: false })], maxReplayLagMb: 16 });
  assert.deepEqual(result.refusals.map((r) => r.reason), ['paul lag 40.0 MB > lag_limit 16 MB', 'george is disabled']);
  assert.ok(DETECTION.length + SELECTION.length >= 40);
});
