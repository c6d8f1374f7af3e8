/**
 * leaseWatchTrigger and quickProbeMs, row by row: which `master_lease/` watch events start a
 * judgement of the master at once, and when a probe may use the short deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leaseWatchTrigger, QUICK_PROBE_MS, quickProbeMs, type LeaseWatchView, type MasterLeaseEvent } from '../../src/engine/lease-watch-trigger.js';

const view: LeaseWatchView = Object.freeze({ leading: true, master: 'john', topologyChangeRunning: false, onHold: false, agentLease: true });
const lapse: MasterLeaseEvent = Object.freeze({ kind: 'delete', node: 'john' });

const rows: [label: string, event: MasterLeaseEvent, over: Partial<LeaseWatchView>, judge: boolean, reason: RegExp][] = [
  ["the master's lease goes while leading → judge now", lapse, {}, true, /john's agent lease is gone/],
  ['the master takes or renews its lease → nothing', { kind: 'put', node: 'john' }, {}, false, /taken or renewed/],
  ["another node's lease goes → nothing", { kind: 'delete', node: 'paul' }, {}, false, /not the master's \(john\)/],
  ["another node's lease taken → nothing", { kind: 'put', node: 'paul' }, {}, false, /taken or renewed/],
  ['a follower sees the lapse → nothing (the leader judges)', lapse, { leading: false }, false, /does not lead/],
  ['no single enabled master → nothing', lapse, { master: null }, false, /no single enabled master/],
  ['a topology change is running → nothing', lapse, { topologyChangeRunning: true }, false, /topology change/],
  ['paused or planned stop → nothing', lapse, { onHold: true }, false, /on hold/],
  ['unreachable_master refuse or promote → nothing (a lapse proves nothing there)', lapse, { agentLease: false }, false, /not agent_lease/],
  ['the lapse names the old master after a failover (book names george) → nothing', lapse, { master: 'george' }, false, /not the master's \(george\)/],
];

for (const [label, event, over, judge, reason] of rows) {
  test(`trigger: ${label}`, () => {
    const out = leaseWatchTrigger(event, Object.freeze({ ...view, ...over }));
    assert.equal(out.judge, judge);
    assert.match(out.reason, reason);
    if (out.judge) assert.equal(out.master, 'john');
  });
}

const quick: [label: string, leaseLapsed: boolean, status: Parameters<typeof quickProbeMs>[0]['status'], connectMs: number, expected: number | null, agentLease?: boolean][] = [
  ['lapsed and unanswering → the short deadline', true, 'unavailable', 5000, QUICK_PROBE_MS],
  ['lapsed and refusing (down) → the short deadline', true, 'down', 5000, QUICK_PROBE_MS],
  ['a connect timeout shorter than the short deadline stays', true, 'unavailable', 100, 100],
  ['lapsed but its last check answered (healthy) → the connect timeout', true, 'healthy', 5000, null],
  ['lapsed but seen by replicas (warning) → the connect timeout', true, 'warning', 5000, null],
  ['lapsed, never checked (unknown) → the connect timeout', true, 'unknown', 5000, null],
  ['unanswering but its lease not seen lapsing → the connect timeout', false, 'unavailable', 5000, null],
  ['lapsed and unanswering, but unreachable_master is not agent_lease → the connect timeout', true, 'unavailable', 5000, null, false],
];

for (const [label, leaseLapsed, status, connectMs, expected, agentLease = true] of quick) {
  test(`quick probe: ${label}`, () => {
    assert.equal(quickProbeMs({ agentLease, leaseLapsed, status }, connectMs), expected);
  });
}
