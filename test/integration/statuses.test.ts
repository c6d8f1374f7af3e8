/**
 * Every server status and cluster status rule, reached on a real 3-node cluster over a real sshd:
 * healthy, lagged (replay paused while the master writes), warning (sshd stopped), unavailable
 * (iptables DROP), down (SIGKILL), and the cluster's unknown/healthy/warning/down rules.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { crash, heal, healAll, partition } from '../fixtures/faults.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

let cluster: TestCluster;
let hr: HandyRep;

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  const path = await writeConfig(cluster, { server_defaults: { lag_limit: 1 } });
  hr = await HandyRep.open(path);
});

after(async () => {
  await hr?.close();
  await healAll();
  await cluster?.stop();
});

function node(name: string) {
  const n = cluster.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

test('before any check the cluster is unknown', async () => {
  const status = await hr.get_status();
  assert.equal(status.cluster.status, 'unknown');
  assert.equal(status.cluster.status_no, 0);
  for (const s of Object.values(status.servers)) assert.equal(s.status, 'unknown');
});

test('healthy: verify_all on a streaming cluster', async () => {
  const rd = await hr.verify_all();
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.failover_ok, true);
  const status = await hr.get_status();
  assert.deepEqual(
    Object.fromEntries(Object.entries(status.servers).map(([n, s]) => [n, s.status])),
    { john: 'healthy', paul: 'healthy', george: 'healthy' },
  );
  assert.equal(status.cluster.status, 'healthy');
  assert.equal(status.cluster.status_no, 1);
  const info = await hr.get_server_info('paul');
  assert.equal(info.paul?.lag_bytes !== null, true);
  assert.equal(info.paul?.timeline, 1);
});

test('lagged: replay paused on paul while the master writes more than lag_limit', async () => {
  await cluster.psql(node('paul'), 'SELECT pg_wal_replay_pause()');
  try {
    await cluster.psql(node('john'), "CREATE TABLE lagtest AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g");
    const rd = await hr.verify_replica('paul');
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(rd.status, 'lagged', rd.details);
    const info = await hr.get_server_info('paul');
    assert.ok((info.paul?.lag_mb ?? 0) > 1, `lag_mb ${String(info.paul?.lag_mb)}`);
    // A poll never clears what verification found.
    await hr.poll('paul');
    assert.equal((await hr.get_status()).servers.paul?.status, 'lagged');
    // Lagged replicas do not degrade the cluster.
    assert.equal((await hr.get_cluster_status()).status, 'healthy');
  } finally {
    await cluster.psql(node('paul'), 'SELECT pg_wal_replay_resume()');
  }
  await waitFor(async () => (await hr.verify_replica('paul')).status === 'healthy', 'paul back to healthy');
});

test('warning: sshd stopped on george; a poll does not turn it healthy', async () => {
  await node('george').sshd.stop();
  try {
    const rd = await hr.verify_server('george');
    assert.equal(rd.status, 'warning', rd.details);
    assert.ok(rd.ssh, 'the RD names the ssh problem');
    await hr.poll_all();
    assert.equal((await hr.get_status()).servers.george?.status, 'warning');
    assert.equal((await hr.get_cluster_status()).status, 'healthy', 'a replica warning does not degrade the cluster');
  } finally {
    await node('george').sshd.start();
  }
  assert.equal((await hr.verify_server('george')).status, 'healthy');
});

test('unavailable: george cut off by iptables DROP; the cluster warns', async () => {
  partition(node('george').host);
  try {
    const started = Date.now();
    const rd = await hr.poll('george');
    assert.equal(rd.result, 'FAIL');
    assert.equal(rd.status, 'unavailable', rd.details);
    assert.ok(Date.now() - started < 2000 + 1500, 'poll bounded by the connect timeout');
    const verify = await hr.verify_server('george');
    assert.equal(verify.status, 'unavailable', verify.details);
    const cluster1 = await hr.get_cluster_status();
    assert.equal(cluster1.status, 'warning');
    assert.match(cluster1.status_message, /george/);
  } finally {
    heal(node('george').host);
  }
  await waitFor(async () => (await hr.verify_server('george')).status === 'healthy', 'george healthy after heal');
});

test('down: paul SIGKILLed; startup brings it back through pg_ctl over ssh', async () => {
  crash(node('paul'));
  const poll = await hr.poll('paul');
  assert.equal(poll.status, 'down', poll.details);
  const verify = await hr.verify_server('paul');
  assert.equal(verify.status, 'down', verify.details);
  assert.equal((await hr.get_cluster_status()).status, 'warning');
  const start = await hr.startup('paul');
  assert.equal(start.result, 'SUCCESS', start.details);
  await waitFor(async () => (await hr.verify_server('paul')).status === 'healthy', 'paul healthy after startup');
  assert.equal((await hr.get_cluster_status()).status, 'healthy');
});

test('cluster down: the master SIGKILLed; cluster warning when only the master lacks ssh', async () => {
  crash(node('john'));
  const poll = await hr.poll_master();
  assert.equal(poll.result, 'FAIL');
  assert.equal(poll.status, 'down');
  const c = await hr.get_cluster_status();
  assert.equal(c.status, 'down');
  assert.equal(c.status_no, 5);
  const start = await hr.startup('john');
  assert.equal(start.result, 'SUCCESS', start.details);
  assert.equal((await hr.get_cluster_status()).status, 'healthy');

  await node('john').sshd.stop();
  try {
    const verify = await hr.verify_master();
    assert.equal(verify.status, 'warning');
    assert.equal((await hr.get_cluster_status()).status, 'warning');
  } finally {
    await node('john').sshd.start();
  }
  assert.equal((await hr.verify_master()).status, 'healthy');
  assert.equal((await hr.get_cluster_status()).status, 'healthy');
});

test('cluster warning with no enabled replica; down with no enabled master; a second master is refused', async () => {
  assert.equal((await hr.disable('paul')).result, 'SUCCESS');
  assert.equal((await hr.disable('george')).result, 'SUCCESS');
  const noReplica = await hr.get_cluster_status();
  assert.equal(noReplica.status, 'warning');
  assert.match(noReplica.status_message, /no enabled replica/);
  assert.equal((await hr.get_status()).servers.paul?.status, 'down', 'disable shut paul down');

  const second = await hr.alter_server_def('paul', { role: 'master' });
  assert.equal(second.result, 'SUCCESS', 'a disabled server may change role');
  const enableSecond = await hr.enable('paul');
  assert.equal(enableSecond.result, 'FAIL');
  assert.match(enableSecond.details, /second master/);
  assert.equal((await hr.alter_server_def('paul', { role: 'replica' })).result, 'SUCCESS');

  for (const name of ['paul', 'george']) {
    assert.equal((await hr.enable(name)).result, 'SUCCESS');
    const start = await hr.startup(name);
    assert.equal(start.result, 'SUCCESS', start.details);
  }
  await waitFor(async () => (await hr.verify_all()).result === 'SUCCESS' && (await hr.get_cluster_status()).status === 'healthy', 'healthy again');

  const disableMaster = await hr.disable('john');
  assert.equal(disableMaster.result, 'SUCCESS');
  const noMaster = await hr.get_cluster_status();
  assert.equal(noMaster.status, 'down');
  assert.match(noMaster.status_message, /no enabled master/);
  assert.equal(await hr.get_master_name(), null);
  assert.equal((await hr.enable('john')).result, 'SUCCESS');
  const start = await hr.startup('john');
  assert.equal(start.result, 'SUCCESS', start.details);
  assert.equal(await hr.get_master_name(), 'john');
  await waitFor(async () => (await hr.verify_all()).result === 'SUCCESS' && (await hr.get_cluster_status()).status === 'healthy', 'healthy at the end');
});

test('each status change is logged once, old → new, with its reason', async () => {
  const entries = await hr.read_log(1000);
  const paulDown = entries.filter((e) => e.category === 'STATUS' && e.server === 'paul' && /→ down/.test(e.message));
  assert.ok(paulDown.length >= 1);
  assert.match(paulDown[0]?.message ?? '', /paul status changed \w+ → down: .+/);
  // No duplicate consecutive lines for one change.
  const lines = entries.filter((e) => e.category === 'STATUS').map((e) => `${e.ts} ${e.message}`);
  assert.equal(new Set(lines).size, lines.length);
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
