/**
 * decideFailover, row by row: each row is its own test, so a failing row names itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideFailover, type FailoverSnapshot } from '../../src/engine/failover-decision.js';

const failed = { failed: true as const, reason_code: 'master_failed' as const, reason: 'neither the controller nor paul, george reach the master', notSeenBy: ['paul', 'george'], unknown: [] };
const seen = { failed: false as const, ambiguous: true, reason_code: 'vantage_sees_master' as const, reason: 'the controller cannot reach the master but paul (probe) can', seenBy: ['paul (probe)'], unknown: [] };
const unknown = { failed: false as const, ambiguous: true, reason_code: 'vantage_none' as const, reason: 'replicas paul, george cannot be asked', seenBy: [], unknown: ['paul', 'george'] };

const base: FailoverSnapshot = {
  master: 'john',
  paused: false,
  plannedDown: false,
  topologyChangeRunning: false,
  controllerReached: false,
  vantage: failed,
  reach: 'control',
  autoFailover: true,
  restartMaster: false,
  restartTried: false,
  unreachableMaster: 'refuse',
  masterLease: null,
  connectionFailover: false,
  unconfirmedFences: [],
};

type Row = [label: string, over: Partial<FailoverSnapshot>, action: string, code: string, proxiesFirst?: boolean];

const ROWS: Row[] = [
  ['agent_lease: unreachable, the lease seen held is gone', { reach: 'none', unreachableMaster: 'agent_lease', masterLease: 'released' }, 'failover', 'master_failed_lease_released'],
  ['agent_lease: unreachable, the agent still holds the lease', { reach: 'none', unreachableMaster: 'agent_lease', masterLease: 'held' }, 'warn', 'master_lease_held'],
  ['agent_lease: unreachable, no agent ever seen holding it', { reach: 'none', unreachableMaster: 'agent_lease', masterLease: 'never_held' }, 'warn', 'master_lease_never_held'],
  ['agent_lease: unreachable, etcd unreadable', { reach: 'none', unreachableMaster: 'agent_lease', masterLease: 'unknown' }, 'warn', 'master_lease_unknown'],
  ['agent_lease: unreachable, lease not read', { reach: 'none', unreachableMaster: 'agent_lease', masterLease: null }, 'warn', 'master_lease_unknown'],
  ['agent_lease: the lease proves nothing about other unconfirmed fences', { reach: 'none', unreachableMaster: 'agent_lease', masterLease: 'released', unconfirmedFences: ['paul'], connectionFailover: true }, 'warn', 'unconfirmed_fence_refused'],
  ['agent_lease: a reachable failed master is failed over as always', { reach: 'control', unreachableMaster: 'agent_lease', masterLease: null }, 'failover', 'master_failed'],
  ['no master in the book', { master: null }, 'none', 'no_master'],
  ['the controller reached the master', { controllerReached: true }, 'none', 'master_ok'],
  ['a topology change runs', { topologyChangeRunning: true }, 'none', 'topology_change_running'],
  ['stopped through HandyRep', { plannedDown: true }, 'warn', 'planned_down'],
  ['no vantage verdict', { vantage: null }, 'warn', 'vantage_ambiguous'],
  ['a replica sees the master', { vantage: seen }, 'warn', 'vantage_sees_master'],
  ['replicas cannot be asked', { vantage: unknown }, 'warn', 'vantage_none'],
  ['a replica sees it, even when paused', { vantage: seen, paused: true }, 'warn', 'vantage_sees_master'],
  ['failed while paused', { paused: true }, 'warn', 'paused'],
  ['failed, restart_master on, host answers', { restartMaster: true }, 'restart_master', 'restart_master'],
  ['failed, restart already tried', { restartMaster: true, restartTried: true }, 'failover', 'master_failed'],
  ['failed, restart_master on but host unreachable', { restartMaster: true, reach: 'none' }, 'warn', 'unreachable_master_refused'],
  ['failed, auto_failover off', { autoFailover: false }, 'warn', 'auto_failover_off'],
  ['failed, host answers on its control channel', {}, 'failover', 'master_failed', false],
  ['failed, unreachable, refuse (default)', { reach: 'none' }, 'warn', 'unreachable_master_refused'],
  ['failed, unreachable, promote without proxies', { reach: 'none', unreachableMaster: 'promote' }, 'warn', 'unreachable_master_no_proxies'],
  ['failed, unreachable, promote with proxies', { reach: 'none', unreachableMaster: 'promote', connectionFailover: true }, 'failover', 'master_failed_unfenced', true],
  ['failed, another server fenced unconfirmed (may be writable)', { unconfirmedFences: ['paul'] }, 'warn', 'unconfirmed_fence_refused'],
  ['failed, fenced unconfirmed, promote without proxies', { unconfirmedFences: ['paul'], unreachableMaster: 'promote' }, 'warn', 'unconfirmed_fence_no_proxies'],
  ['failed, fenced unconfirmed, promote with proxies', { unconfirmedFences: ['paul'], unreachableMaster: 'promote', connectionFailover: true }, 'failover', 'master_failed_unfenced', true],
  ['a fenced-unconfirmed server does not matter while the master answers', { unconfirmedFences: ['paul'], controllerReached: true }, 'none', 'master_ok'],
  ['fenced unconfirmed, failed while paused: paused first', { unconfirmedFences: ['paul'], paused: true }, 'warn', 'paused'],
  ['fenced unconfirmed: no restart of the old master either', { unconfirmedFences: ['paul'], restartMaster: true }, 'warn', 'unconfirmed_fence_refused'],
];

for (const [label, over, action, code, proxiesFirst] of ROWS) {
  test(`decideFailover: ${label} → ${action} (${code})`, () => {
    const snapshot = Object.freeze({ ...base, ...over });
    const decision = decideFailover(snapshot);
    assert.equal(decision.action, action, decision.reason);
    assert.equal(decision.reason_code, code, decision.reason);
    if (proxiesFirst !== undefined) assert.equal(decision.proxiesFirst, proxiesFirst);
    assert.ok(decision.reason.length > 0);
  });
}

test('decideFailover: agent_lease says what etcd\'s history proved, or why it could not', () => {
  const lease = { ...base, reach: 'none' as const, unreachableMaster: 'agent_lease' as const };
  const proven = decideFailover(Object.freeze({ ...lease, masterLease: 'released' as const, masterLeaseNote: "etcd's history shows master_lease/john held under lease 7" }));
  assert.equal(proven.reason_code, 'master_failed_lease_released');
  assert.match(proven.reason, /gone from etcd \(etcd's history shows master_lease\/john held under lease 7\)/);
  const compacted = decideFailover(Object.freeze({ ...lease, masterLease: 'never_held' as const, masterLeaseNote: 'etcd compacted its history at revision 30' }));
  assert.equal(compacted.reason_code, 'master_lease_never_held');
  assert.match(compacted.reason, /holding its master lease \(etcd compacted its history at revision 30\), so its absence proves nothing/);
  assert.doesNotMatch(decideFailover(Object.freeze({ ...lease, masterLease: 'never_held' as const })).reason, /\(\)/);
});
