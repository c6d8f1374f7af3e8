/**
 * A slow clone (a ~300 MB master, pg_basebackup throttled with --max-rate) cancelled at about
 * 30 %: the copy stops on the node, the partial copy is removed, the target is left disabled with
 * a status message saying so, and a clone afterwards works. Progress is visible meanwhile in
 * get_server_info and in the log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { healAll } from '../fixtures/faults.js';
import { POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { makeEmptyHost, nodeOf, processesMentioning, streamingFrom, waitUntil, writeConfigWithout } from './clone-helpers.js';

let cluster: TestCluster;
let hr: HandyRep;
let ringoConf: string;

before(async () => {
  cluster = await startCluster({ nodes: 3, names: ['john', 'paul', 'ringo'], postgresConf: POSTGRES_FAST_RETRY });
  ringoConf = await makeEmptyHost(nodeOf(cluster, 'ringo'));
  const john = nodeOf(cluster, 'john');
  await cluster.psql(john, "CREATE TABLE big AS SELECT g, repeat(md5(g::text), 28) AS pad FROM generate_series(1, 300000) g");
  await cluster.psql(john, 'CHECKPOINT');
  const path = writeConfigWithout(cluster, ['ringo'], { plugins: { clone_basebackup: { extra_parameters: ['--max-rate=32M'] } } });
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
  const ringo = nodeOf(cluster, 'ringo');
  assert.equal((await hr.add_server('ringo', { hostname: ringo.host, port: ringo.port, pgdata: ringo.dataDir, pgconf: ringoConf })).result, 'SUCCESS');
});

after(async () => {
  await hr?.close();
  healAll();
  await cluster?.stop();
});

test('a clone cancelled at ~30 % stops, removes its partial copy and leaves the target disabled', async () => {
  const ringo = nodeOf(cluster, 'ringo');
  const size = Number(await cluster.psql(nodeOf(cluster, 'john'), "SELECT pg_database_size('postgres')"));
  assert.ok(size > 250 * 1048576, `source is ${size} bytes`);
  const started = await hr.clone('ringo', false, null, null, false);
  assert.equal(started.result, 'SUCCESS', started.details);
  assert.match(started.details, /started/);
  // A second clone of the same server is refused while this one runs.
  const again = await hr.clone('ringo');
  assert.equal(again.result, 'FAIL');
  assert.equal(again.reason_code, 'busy');

  const progress = await waitUntil('the clone to reach 30 %', 60000, async () => {
    const p = (await hr.get_server_info('ringo')).ringo?.action_progress;
    return p && p.state === 'running' && (p.percent ?? 0) >= 30 ? p : null;
  }, 100);
  assert.equal((await hr.get_server_info('ringo')).ringo?.action, 'clone');
  assert.match(progress.phase, /copying from john/);
  assert.ok((progress.bytes_total ?? 0) > 250 * 1048576);

  const cancelStarted = Date.now();
  const cancelled = await hr.cancel_clone('ringo');
  const cancelMs = Date.now() - cancelStarted;
  assert.equal(cancelled.result, 'SUCCESS', cancelled.details);
  console.log(`# cancelled at ${progress.percent}% in ${cancelMs} ms: ${cancelled.details}`);
  assert.ok(cancelMs < 15000, `cancel took ${cancelMs} ms`);

  const info = (await hr.get_server_info('ringo')).ringo;
  assert.ok(info);
  assert.equal(info.enabled, false);
  assert.equal(info.status, 'down');
  assert.match(info.status_message, /clone cancelled \(cancelled by an operator\) during copying from john .* at [3-9]\d(\.\d)?% /);
  assert.match(info.status_message, /partial copy removed; ringo is disabled/);
  assert.equal(info.action, null);
  assert.equal(info.action_progress?.state, 'cancelled');
  assert.deepEqual(readdirSync(ringo.dataDir), []);
  await waitUntil('no process using the data folder', 5000, async () => (await processesMentioning(ringo.dataDir)).length === 0);
  await waitUntil('no job process left on the node', 5000, async () => (await processesMentioning('handyrep-job-')).length === 0);
  assert.equal(await hr.cancel_clone('ringo').then((r) => r.result), 'FAIL');
  const log = await hr.read_log(500);
  assert.ok(log.some((e) => /clone ringo: copying from john with clone_basebackup: [1-3]\d(\.\d)?% \(/.test(e.message)), 'progress logged');
  assert.ok(log.some((e) => /clone ringo cancelled/.test(e.message)));
});

test('after a cancel the same target clones normally', async () => {
  const rd = await hr.clone('ringo');
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.deepEqual(await streamingFrom(cluster, nodeOf(cluster, 'john')), ['paul', 'ringo']);
  assert.equal((await hr.get_server_info('ringo')).ringo?.enabled, true);
});
