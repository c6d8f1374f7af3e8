/**
 * The integration test bed itself: a 3-node cluster of real PostgreSQL servers with one sshd per
 * node, and the fault helpers the failover tests rely on.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PG_BIN_DIR, startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { run } from '../fixtures/exec.js';
import { crash, freeze, heal, healAll, instancePids, partition, startSshd, stopSshd, thaw } from '../fixtures/faults.js';
import { listRules } from '../fixtures/iptables.js';
import { probeTcp } from '../fixtures/net.js';
import { isAlive, procStat } from '../fixtures/proc.js';
import { trackedProcesses } from '../fixtures/processes.js';

let current: TestCluster | undefined;

after(async () => {
  healAll();
  await current?.stop();
});

function cluster(): TestCluster {
  assert.ok(current, 'cluster not started');
  return current;
}

function node(index: number): TestNode {
  const found = cluster().nodes[index];
  assert.ok(found, `no node ${index}`);
  return found;
}

function ssh(target: TestNode, command: string): ReturnType<typeof run> {
  const c = cluster();
  return run('/usr/bin/ssh', [
    '-F', '/dev/null',
    '-i', c.sshKeyPath,
    '-p', String(target.sshPort),
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${c.knownHostsPath}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=5',
    `postgres@${target.host}`,
    command,
  ], { timeoutMs: 15_000 });
}

const ownRules = (): string[] => listRules().filter((rule) => rule.includes(`handyrep-test:${process.pid}:`));

test('startCluster builds a 3-node streaming cluster', async (t) => {
  const started = Date.now();
  current = await startCluster({ nodes: 3 });
  t.diagnostic(`startCluster(3) took ${Date.now() - started} ms`);
  const c = cluster();
  assert.equal(c.master, node(0));
  assert.deepEqual(
    c.nodes.map((n) => n.name),
    ['john', 'paul', 'george'],
  );

  const streaming = await c.psql(c.master, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1");
  assert.deepEqual(streaming.split('\n'), ['george', 'paul']);
  assert.equal(await c.psql(node(1), 'SELECT pg_is_in_recovery()'), 't');

  // A write on the master reaches both replicas.
  await c.psql(c.master, 'CREATE TABLE fixture_check (v int); INSERT INTO fixture_check VALUES (42)');
  for (const replica of [node(1), node(2)]) {
    const deadline = Date.now() + 10_000;
    let value = '';
    while (Date.now() < deadline && value !== '42') {
      value = await c.psql(replica, 'SELECT v FROM fixture_check').catch(() => '');
      if (value !== '42') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(value, '42', `replica ${replica.name}`);
  }

  // Each node listens on its own address only.
  assert.equal(await c.psql(node(1), 'SHOW listen_addresses'), node(1).host);
  assert.equal(await probeTcp(node(1).host, 5432, 2000), 'open');

  // The HandyRep configuration points at this cluster.
  const config = c.config({ failover: { auto_failover: true } });
  assert.equal(config.servers?.['john']?.role, 'master');
  assert.equal(config.servers?.['paul']?.pgdata, node(1).dataDir);
  assert.equal(config.server_defaults?.pg_bin_dir, PG_BIN_DIR);
  assert.equal(config.failover?.auto_failover, true);
  assert.equal(config.handyrep?.connect_timeout_seconds, 2);
});

test('ssh as postgres works on every node, and stopping one sshd affects that node only', async () => {
  for (const target of cluster().nodes) {
    const result = await ssh(target, 'id -un');
    assert.equal(result.code, 0, `${target.name}: ${result.stderr}`);
    assert.equal(result.stdout.trim(), 'postgres');
  }
  await stopSshd(node(1));
  assert.equal(await probeTcp(node(1).host, node(1).sshPort, 2000), 'refused');
  assert.equal((await ssh(node(1), 'true')).code, 255);
  assert.equal((await ssh(node(2), 'true')).code, 0);
  await startSshd(node(1));
  assert.equal((await ssh(node(1), 'true')).code, 0);
});

test('partition makes connects hang until healed', async () => {
  const target = node(0);
  partition(target.host);
  assert.ok(ownRules().length > 0);
  const started = Date.now();
  assert.equal(await probeTcp(target.host, 5432, 1500), 'timeout');
  assert.ok(Date.now() - started >= 1000);
  heal(target.host);
  assert.equal(await probeTcp(target.host, 5432, 2000), 'open');
  assert.deepEqual(ownRules(), []);
});

test('partition by uid cuts the controller off but keeps replication flowing', async () => {
  const c = cluster();
  const uid = process.getuid?.() ?? 0;
  partition(c.master.host, { uid });
  try {
    assert.equal(await probeTcp(c.master.host, 5432, 1500), 'timeout');
    // Replication runs as postgres: a write still reaches the replicas.
    await c.psql(c.master, 'INSERT INTO fixture_check VALUES (43)');
    const deadline = Date.now() + 10_000;
    let count = '';
    while (Date.now() < deadline && count !== '2') {
      count = await c.psql(node(2), 'SELECT count(*) FROM fixture_check');
      if (count !== '2') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(count, '2');
  } finally {
    heal(c.master.host);
  }
  assert.equal(await probeTcp(c.master.host, 5432, 2000), 'open');
});

test('freeze stops every process of the instance, thaw resumes them', async () => {
  const c = cluster();
  const target = node(1);
  const pids = freeze(target);
  assert.ok(pids.length > 3, `only ${pids.length} processes`);
  // A backend that was already exiting may be gone; every live one must be stopped.
  for (const pid of pids.filter(isAlive)) assert.equal(procStat(pid)?.state, 'T', `pid ${pid}`);
  const frozenQuery = await run(join(PG_BIN_DIR, 'psql'), ['-X', '-h', target.socketDir, '-U', 'postgres', '-c', 'SELECT 1'], {
    asPostgres: true,
    timeoutMs: 1000,
  });
  assert.equal(frozenQuery.code, null, 'a query to a frozen instance must hang');
  thaw(target);
  for (const pid of pids.filter(isAlive)) assert.notEqual(procStat(pid)?.state, 'T', `pid ${pid}`);
  assert.equal(await c.psql(target, 'SELECT 1'), '1');
});

test('crash leaves no process of the instance; the node restarts and streams again', async () => {
  const c = cluster();
  const target = node(2);
  const pids = instancePids(target);
  assert.ok(pids.length > 3);
  await crash(target);
  assert.deepEqual(pids.filter(isAlive), []);
  assert.equal(target.postmasterPid(), null);
  assert.equal(await probeTcp(target.host, 5432, 2000), 'refused');
  await target.start();
  await c.waitStreaming(c.master, [node(1), target]);
});

test('stop() leaves no tracked process, rule or folder behind and is idempotent', async () => {
  const c = cluster();
  partition(node(1).host);
  freeze(node(2));
  const pids = trackedProcesses().map((p) => p.pid);
  assert.ok(pids.length >= 6, `tracked: ${JSON.stringify(trackedProcesses())}`);
  await c.stop();
  assert.deepEqual(pids.filter(isAlive), []);
  assert.deepEqual(ownRules(), []);
  assert.equal(existsSync(c.root), false);
  await c.stop();
});
