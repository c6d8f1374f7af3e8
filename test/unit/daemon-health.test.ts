/** Health verdicts for load balancers, from a get_status report. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerStatusSummary, StatusReport } from '../../src/api/handyrep.js';
import { fullDaemonHealth, parseLagLimit, primaryHealth, publicDaemonHealth, replicaHealth } from '../../src/daemon/health.js';
import { makeServerStatus, type ServerStatusName } from '../../src/model/status.js';

function server(role: string, status: ServerStatusName, enabled = true): ServerStatusSummary {
  return { hostname: 'h', role, enabled, ...makeServerStatus(status, '', 'now') };
}

function report(servers: Record<string, ServerStatusSummary>): StatusReport {
  return { cluster: { status: 'healthy', status_no: 1, status_ts: 'now', status_message: '' }, servers };
}

test('primary: 200 only for the enabled master that is healthy or warning', () => {
  const cases: [ServerStatusSummary, number][] = [
    [server('master', 'healthy'), 200],
    [server('master', 'warning'), 200],
    [server('master', 'unknown'), 503],
    [server('master', 'unavailable'), 503],
    [server('master', 'down'), 503],
    [server('master', 'healthy', false), 503],
    [server('replica', 'healthy'), 503],
  ];
  for (const [s, status] of cases) {
    const verdict = primaryHealth(report({ john: s }), 'john');
    assert.equal(verdict.status, status, JSON.stringify(s));
    assert.equal(verdict.body['primary'], status === 200);
  }
  assert.equal(primaryHealth(report({}), 'nobody').status, 404);
  assert.equal(primaryHealth(report({}), '__proto__').status, 404, 'no prototype lookups');
});

test('replica: 200 only for an enabled healthy replica within the lag limit, when one is asked for', () => {
  const r = report({ paul: server('replica', 'healthy'), george: server('replica', 'lagged'), ringo: server('replica', 'warning'), pete: server('replica', 'healthy', false) });
  assert.equal(replicaHealth(r, 'paul', null, null).status, 200);
  assert.equal(replicaHealth(r, 'george', 0, null).status, 503);
  assert.equal(replicaHealth(r, 'ringo', 0, null).status, 503);
  assert.equal(replicaHealth(r, 'pete', 0, null).status, 503);
  assert.equal(replicaHealth(r, 'paul', 100, 100).status, 200);
  assert.equal(replicaHealth(r, 'paul', 101, 100).status, 503);
  assert.equal(replicaHealth(r, 'paul', null, 100).status, 503, 'an unmeasured lag is not within the limit');
  assert.equal(replicaHealth(r, 'john', null, null).status, 404);
});

test('lag limits: bytes or with units of 1024, any case; anything else is invalid', () => {
  assert.equal(parseLagLimit('1048576'), 1048576);
  assert.equal(parseLagLimit('16MB'), 16 * 1024 * 1024);
  assert.equal(parseLagLimit('512kB'), 512 * 1024);
  assert.equal(parseLagLimit('1.5 gb'), 1.5 * 1024 ** 3);
  assert.equal(parseLagLimit('0'), 0);
  for (const bad of ['', '-1', '16 MiB', 'lots', '1e9', '16MBB']) assert.equal(parseLagLimit(bad), null, bad);
});

test('/health: without the read password statuses and counts only; the texts (which name hosts) only with it', () => {
  const withTexts: StatusReport = {
    cluster: { status: 'warning', status_no: 3, status_ts: 'now', status_message: 'master john (10.0.0.7) unreachable: connect ECONNREFUSED 10.0.0.7:5432', paused: false },
    servers: { john: server('master', 'down') },
  };
  const monitor = { running: true, cycles: 4, errors: 1, last_error: 'ssh postgres@10.0.0.7: timed out', last_cycle_ts: 'now', last_result: 'john down on 10.0.0.7', last_duration_ms: 12 };
  const open = publicDaemonHealth(withTexts, monitor);
  assert.deepEqual(open, {
    status: 'running',
    monitor: { running: true, cycles: 4, errors: 1, last_cycle_ts: 'now', last_duration_ms: 12 },
    cluster: { status: 'warning', status_no: 3, status_ts: 'now', paused: false },
  });
  assert.ok(!JSON.stringify(open).includes('10.0.0.7') && !JSON.stringify(open).includes('john'));
  const full = fullDaemonHealth(withTexts, monitor);
  assert.match(JSON.stringify(full), /timed out[\s\S]*ECONNREFUSED 10\.0\.0\.7/);
});
