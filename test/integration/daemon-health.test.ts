/**
 * Health endpoints and metrics on a real 3-node cluster while the daemon's monitoring loop runs:
 * /primary and /replica follow what the loop observes (a crashed replica, a crashed master, a
 * replica whose replay is paused while the master writes), and /metrics carries the statuses,
 * the lag, check latencies and cycle counts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { basic, http, waitUntil } from '../fixtures/daemon.js';
import { crash } from '../fixtures/faults.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const ADMIN = basic('health-admin');
let cluster: TestCluster;
let daemon: RunningDaemon;

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  const path = await writeConfig(cluster, {
    handyrep: { authentication_method: 'simple_password_auth' },
    passwords: { admin_password: 'health-admin' },
    failover: { poll_interval: 0.5, verify_interval: 1 },
  });
  daemon = await startDaemon(path, { host: '127.0.0.1', port: 0, notice: () => undefined });
});

after(async () => {
  await daemon?.stop();
  await cluster?.stop();
});

function node(index: number): TestNode {
  return cluster.nodes[index] as TestNode;
}

const status = async (path: string): Promise<number> => (await http(daemon.url, path)).status;

/** Wait until every path answers its status (statuses settle over the first verifications). */
async function waitStatuses(want: Record<string, number>, what: string, timeoutMs = 20_000): Promise<void> {
  let last = '';
  try {
    await waitUntil(async () => {
      const got = await Promise.all(Object.keys(want).map(async (path) => [path, await status(path)] as const));
      last = JSON.stringify(Object.fromEntries(got));
      return got.every(([path, code]) => code === want[path]);
    }, what, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last ${last}`);
  }
}

test('healthy cluster: /primary and /read-write 200 only for the master, /replica 200 only for replicas', async () => {
  const [john, paul, george] = [node(0).name, node(1).name, node(2).name];
  await waitStatuses(
    { [`/primary/${john}`]: 200, [`/read-write/${john}`]: 200, [`/replica/${paul}`]: 200, [`/replica/${george}`]: 200, [`/primary/${paul}`]: 503, [`/replica/${john}`]: 503 },
    'a healthy cluster',
  );
  assert.equal(await status('/primary/nosuch'), 404);
  const body = (await http(daemon.url, `/primary/${john}`)).json as Record<string, unknown>;
  assert.deepEqual([body['server'], body['role'], body['status'], body['primary']], [john, 'master', 'healthy', true]);
  const health = (await http(daemon.url, '/health')).json as { status: string; monitor: { running: boolean; cycles: number } };
  assert.equal(health.status, 'running');
  assert.equal(health.monitor.running, true);
});

test('/replica?lag=: a replica whose replay is paused while the master writes is over a small limit, within a large one', async () => {
  const [john, paul] = [node(0), node(1)];
  await cluster.psql(paul, 'SELECT pg_wal_replay_pause()');
  try {
    await cluster.psql(john, "CREATE TABLE health_lag AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 5000) g");
    // Over 64kB but within 1GB, as measured by the loop's verifications.
    await waitStatuses({ [`/replica/${paul.name}?lag=64kB`]: 503, [`/replica/${paul.name}?lag=1GB`]: 200 }, 'paul between 64kB and 1GB behind');
    const body = (await http(daemon.url, `/replica/${paul.name}?lag=64kB`)).json as { lag_bytes: number; max_lag_bytes: number };
    assert.ok(body.lag_bytes > 64 * 1024, `lag ${body.lag_bytes}`);
    assert.equal(body.max_lag_bytes, 64 * 1024);
    assert.equal((await http(daemon.url, `/replica/${paul.name}?lag=16%20parsecs`)).status, 400);
  } finally {
    await cluster.psql(paul, 'SELECT pg_wal_replay_resume()');
  }
  await waitStatuses({ [`/replica/${paul.name}?lag=64kB`]: 200 }, 'paul caught up');
});

test('a crashed replica gets 503 from /replica; a crashed master 503 from /primary; both come back', async () => {
  const [john, george] = [node(0), node(2)];
  await crash(george);
  await waitStatuses({ [`/replica/${george.name}`]: 503 }, 'george seen down');
  assert.equal(await status(`/primary/${john.name}`), 200, 'a replica down does not touch the master');
  const started = await http(daemon.url, `/startup?servername=${george.name}`, { headers: { authorization: ADMIN } });
  assert.equal((started.json as { result: string }).result, 'SUCCESS', started.text);
  await waitStatuses({ [`/replica/${george.name}`]: 200 }, 'george healthy again');

  await crash(john);
  await waitStatuses({ [`/primary/${john.name}`]: 503 }, 'john seen down');
  const restarted = await http(daemon.url, `/startup?servername=${john.name}`, { headers: { authorization: ADMIN } });
  assert.equal((restarted.json as { result: string }).result, 'SUCCESS', restarted.text);
  await waitStatuses({ [`/primary/${john.name}`]: 200 }, 'john healthy again', 30_000);
});

test('/metrics: statuses, lag, check latencies, cycles', async () => {
  const text = (await http(daemon.url, '/metrics')).text;
  assert.match(text, new RegExp(`handyrep_server_status\\{server="${node(0).name}",role="master"\\} 1`));
  assert.match(text, /handyrep_cluster_status \d/);
  assert.match(text, new RegExp(`handyrep_replication_lag_bytes\\{server="${node(1).name}"\\} \\d+`));
  const polls = Number(/handyrep_check_duration_seconds_count\{kind="poll"\} (\d+)/.exec(text)?.[1] ?? 0);
  const verifies = Number(/handyrep_check_duration_seconds_count\{kind="verify"\} (\d+)/.exec(text)?.[1] ?? 0);
  assert.ok(polls > 0 && verifies > 0, `${polls} polls, ${verifies} verifications observed`);
  assert.ok(Number(/handyrep_check_cycles_total (\d+)/.exec(text)?.[1] ?? 0) > 2);
  assert.match(text, /handyrep_check_cycle_errors_total 0/);
  assert.match(text, /handyrep_monitor_running 1/);
  assert.match(text, /handyrep_process_resident_memory_bytes \d+/);
});
