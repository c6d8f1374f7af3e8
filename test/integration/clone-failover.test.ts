/**
 * A failover during a running clone, with the monitoring schedule running as in the daemon: the
 * master is SIGKILLed while a slow clone copies from it; the failover completes in its normal
 * time (it does not wait for the clone), and the clone completes against the new master. Then
 * the diverged old master is recloned: its data folder kept aside for forensics, the fenced flag
 * cleared, an enabled replica of the new master.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readdirSync } from 'node:fs';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { crash, healAll } from '../fixtures/faults.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { makeEmptyHost, nodeOf, streamingFrom, waitUntil, writeConfigWithout } from './clone-helpers.js';

let cluster: TestCluster;
let hr: HandyRep;
let ringoConf: string;
let newMaster = '';

before(async () => {
  cluster = await startCluster({ nodes: 4, postgresConf: POSTGRES_FAST_RETRY });
  ringoConf = await makeEmptyHost(nodeOf(cluster, 'ringo'));
  const john = nodeOf(cluster, 'john');
  await cluster.psql(john, "CREATE TABLE big AS SELECT g, repeat(md5(g::text), 28) AS pad FROM generate_series(1, 300000) g");
  await cluster.psql(john, 'CHECKPOINT');
  await waitUntil('replicas to replay the big table', 60000, async () => {
    const lsn = await cluster.psql(john, 'SELECT pg_current_wal_lsn()');
    const behind = await Promise.all(['paul', 'george'].map((n) => cluster.psql(nodeOf(cluster, n), `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)));
    return behind.every((b) => b.trim() === 't');
  });
  const path = writeConfigWithout(cluster, ['ringo'], {
    failover: { ...FAILOVER_TEST_SETTINGS, auto_rejoin: false },
    plugins: { clone_basebackup: { extra_parameters: ['--max-rate=32M'] } },
  });
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
  assert.equal((await hr.verify_all()).result, 'SUCCESS');
  const ringo = nodeOf(cluster, 'ringo');
  assert.equal((await hr.add_server('ringo', { hostname: ringo.host, port: ringo.port, pgdata: ringo.dataDir, pgconf: ringoConf })).result, 'SUCCESS');
});

after(async () => {
  await hr?.stopMonitoring();
  await hr?.close();
  healAll();
  await cluster?.stop();
});

test('the master crashes while a slow clone copies from it: the failover is not delayed and the clone completes from the new master', async () => {
  hr.startMonitoring();
  const started = await hr.clone('ringo', false, null, null, false);
  assert.equal(started.result, 'SUCCESS', started.details);
  await waitUntil('the clone to reach 25 %', 60000, async () => ((await hr.get_server_info('ringo')).ringo?.action_progress?.percent ?? 0) >= 25, 100);

  await crash(nodeOf(cluster, 'john'));
  const crashedAt = Date.now();
  newMaster = await waitUntil('a new master', 30000, async () => {
    const m = await hr.get_master_name();
    return m !== null && m !== 'john' ? m : null;
  }, 50);
  const failoverMs = Date.now() - crashedAt;
  const during = (await hr.get_server_info('ringo')).ringo;
  console.log(`# failover to ${newMaster} ${failoverMs} ms after the crash; clone then: ${during?.action_progress?.phase} (${during?.action_progress?.state})`);
  // Normal failover time with these settings is ~2-3 s; the clone would take ~10 s more.
  assert.ok(failoverMs < 10000, `failover took ${failoverMs} ms`);
  assert.equal(during?.action, 'clone', 'the clone was still running when the failover finished');
  // The failover's record is written when its last step (remastering the others) is done.
  const record = await waitUntil('the failover record', 20000, async () => (await hr.failover_history(1)).find((h) => h.kind === 'failover'));
  assert.equal(record.outcome, 'SUCCESS', record.details);
  console.log(`# failover record: ${record.duration_ms} ms, ${record.details}`);

  const ended = await waitUntil('the clone to end', 180000, async () => {
    const p = (await hr.get_server_info('ringo')).ringo?.action_progress;
    return p && p.state !== 'running' ? p : null;
  }, 250);
  assert.equal(ended.state, 'done', ended.details ?? '');
  assert.match(ended.details ?? '', new RegExp(`cloned from ${newMaster} and streaming from ${newMaster}`));
  const ringo = (await hr.get_server_info('ringo')).ringo;
  assert.equal(ringo?.enabled, true);
  assert.equal(ringo?.role, 'replica');
  await waitUntil('ringo streaming from the new master', 20000, async () => (await streamingFrom(cluster, nodeOf(cluster, newMaster))).includes('ringo'));
  assert.equal((await cluster.psql(nodeOf(cluster, 'ringo'), 'SELECT count(*) FROM big')).trim(), '300000');
  const log = await hr.read_log(1000);
  const recopy = log.find((e) => /copy from john failed .*copying again from/.test(e.message) || /the master changed from john/.test(e.message));
  assert.ok(recopy, 'the re-copy is logged');
  console.log(`# ${recopy.message}`);
});

test('reclone the diverged old master: data kept aside, unfenced, an enabled replica of the new master', async () => {
  await hr.stopMonitoring();
  const john = nodeOf(cluster, 'john');
  const before = (await hr.get_server_info('john')).john;
  assert.equal(before?.fenced, true);
  assert.equal(before?.enabled, false);
  const ownConf = readFileSync(join(john.dataDir, 'postgresql.conf'), 'utf8');

  const rd = await hr.clone('john', true);
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.upstream, newMaster);
  assert.match(rd.old_data ?? '', /\/data\.diverged-\d{8}T\d{6}Z$/);
  assert.ok(existsSync(join(rd.old_data as string, 'PG_VERSION')), 'the diverged folder is kept whole');
  assert.deepEqual(readdirSync(dirname(john.dataDir)).filter((f) => f.startsWith('data.diverged-')).length, 1);
  assert.equal(readFileSync(join(john.dataDir, 'postgresql.conf'), 'utf8'), ownConf);

  const info = (await hr.get_server_info('john')).john;
  assert.equal(info?.fenced, false);
  assert.equal(info?.enabled, true);
  assert.equal(info?.role, 'replica');
  assert.equal(info?.status, 'healthy', info?.status_message);
  assert.deepEqual((await streamingFrom(cluster, nodeOf(cluster, newMaster))).includes('john'), true);
  const timeline = async (n: string): Promise<string> => (await cluster.psql(nodeOf(cluster, n), 'SELECT timeline_id FROM pg_control_checkpoint()')).trim();
  await waitUntil('john on the new timeline', 20000, async () => (await timeline('john')) === (await timeline(newMaster)));
  assert.notEqual(await timeline('john'), '1');
  const status = await hr.get_cluster_status(true);
  assert.equal(status.status, 'healthy', status.status_message);
});
