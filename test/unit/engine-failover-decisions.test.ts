/**
 * The pure failover engine over a table of snapshots: which replica is chosen or why none is
 * (selection plugins). Detection (is the master failed?) is in engine-master-failure.test.ts.
 * Inputs are deep-frozen: a decision never mutates its snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateLagMb } from '../../src/engine/lag.js';
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
  ['512 MB behind the master\'s last known position refused, whatever the last verification recorded', 'ahead', [c('paul', { lagMb: candidateLagMb('0/25000000', '0/5000000', 0), lagLimitMb: 16 }), c('george')], ['george'], { paul: 'lag_limit' }],
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
  assert.ok(SELECTION.length >= 25);
});
