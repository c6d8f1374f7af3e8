/**
 * clone on a real 4-node cluster over a real sshd: refusals that change nothing on disk, a new
 * replica cloned into an empty folder (add_server + clone), a reclone of a running replica from
 * another replica keeping the node's own configuration, and clone_rsync.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, readFileSync, readdirSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { healAll } from '../fixtures/faults.js';
import { POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { postgresUser, runOk } from '../fixtures/exec.js';
import { fingerprint, makeEmptyHost, nodeOf, processesMentioning, streamingFrom, waitUntil, writeConfigWithout } from './clone-helpers.js';

let cluster: TestCluster;
let hr: HandyRep;
let ringoConf: string;
let postgresKey: string;

before(async () => {
  cluster = await startCluster({ nodes: 4, postgresConf: POSTGRES_FAST_RETRY });
  ringoConf = await makeEmptyHost(nodeOf(cluster, 'ringo'));
  // clone_rsync runs ssh from the target node (as postgres) to the source: a key for it.
  postgresKey = join(cluster.root, 'ssh', 'id_postgres');
  await runOk('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'handyrep-test-postgres', '-f', postgresKey]);
  const user = postgresUser();
  chownSync(postgresKey, user.uid, user.gid);
  appendFileSync(join(cluster.root, 'ssh', 'authorized_keys'), readFileSync(`${postgresKey}.pub`, 'utf8'));
  const path = writeConfigWithout(cluster, ['ringo'], {
    plugins: {
      clone_rsync: { ssh_options: ['-i', postgresKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'] },
    },
  });
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
  assert.equal((await hr.verify_all()).result, 'SUCCESS');
});

after(async () => {
  await hr?.close();
  healAll();
  await cluster?.stop();
});

test('refusals change nothing on disk: over the master, over a running replica, from a down server', async () => {
  const john = nodeOf(cluster, 'john');
  const paul = nodeOf(cluster, 'paul');
  const george = nodeOf(cluster, 'george');
  const ringo = nodeOf(cluster, 'ringo');
  const before = { john: fingerprint(john.dataDir), paul: fingerprint(paul.dataDir), ringo: fingerprint(ringo.dataDir) };

  const overMaster = await hr.clone('john');
  assert.equal(overMaster.result, 'FAIL');
  assert.equal(overMaster.reason_code, 'target_is_master');
  assert.match(overMaster.details, /may not clone over the master/);

  const overRunning = await hr.clone('paul');
  assert.equal(overRunning.result, 'FAIL');
  assert.equal(overRunning.reason_code, 'target_running');
  assert.match(overRunning.details, /requires reclone/);

  const added = await hr.add_server('ringo', { hostname: ringo.host, port: ringo.port, pgdata: ringo.dataDir, pgconf: ringoConf });
  assert.equal(added.result, 'SUCCESS', added.details);
  await george.stop('fast');
  try {
    const fromDown = await hr.clone('ringo', false, 'george');
    assert.equal(fromDown.result, 'FAIL');
    assert.equal(fromDown.reason_code, 'source_unreachable');
    assert.match(fromDown.details, /george does not respond/);
  } finally {
    await george.start();
  }
  await assert.rejects(() => hr.clone('ringo', false, 'nosuch'), /no server named "nosuch"/);

  assert.deepEqual({ john: fingerprint(john.dataDir), paul: fingerprint(paul.dataDir), ringo: fingerprint(ringo.dataDir) }, before);
  assert.deepEqual(readdirSync(ringo.dataDir), []);
  const info = await hr.get_server_info();
  assert.equal(info.paul?.enabled, true);
  assert.equal(info.ringo?.enabled, false);
  assert.equal(info.ringo?.action, null);
  assert.deepEqual(await streamingFrom(cluster, john), ['george', 'paul']);
});

test('clone a new replica into an empty folder: add_server + clone, enabled and streaming from the master', async () => {
  const john = nodeOf(cluster, 'john');
  const ringo = nodeOf(cluster, 'ringo');
  await cluster.psql(john, "CREATE TABLE cloned AS SELECT g FROM generate_series(1, 5000) g");
  const started = Date.now();
  const rd = await hr.clone('ringo');
  const seconds = (Date.now() - started) / 1000;
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.source, 'john');
  assert.equal(rd.upstream, 'john');
  console.log(`# clone of ringo into an empty folder: ${seconds.toFixed(1)} s`);

  const info = (await hr.get_server_info('ringo')).ringo;
  assert.ok(info);
  assert.equal(info.enabled, true);
  assert.equal(info.role, 'replica');
  assert.equal(info.status, 'healthy', info.status_message);
  assert.equal(info.action, null);
  assert.equal(info.action_progress?.state, 'done');
  assert.ok((info.action_progress?.bytes_done ?? 0) > 0);
  assert.deepEqual(await streamingFrom(cluster, john), ['george', 'paul', 'ringo']);
  // The copy is a standby with the node's own configuration (pgconf), not john's.
  assert.ok(existsSync(join(ringo.dataDir, 'standby.signal')));
  assert.equal((await cluster.psql(ringo, 'SELECT count(*) FROM cloned')).trim(), '5000');
  assert.equal((await cluster.psql(ringo, 'SHOW listen_addresses')).trim(), ringo.host);
  await cluster.psql(john, 'INSERT INTO cloned SELECT 0');
  await waitUntil('ringo replays a new row', 10000, async () => (await cluster.psql(ringo, 'SELECT count(*) FROM cloned')).trim() === '5001');
  const log = await hr.read_log(200);
  assert.ok(log.some((e) => /clone ringo: copying from john/.test(e.message)), 'phase logged');
  assert.ok(log.some((e) => /clone ringo done/.test(e.message)), 'outcome logged');
  assert.equal((await hr.get_cluster_status(true)).status, 'healthy');
  await waitUntil('no job process left on the node', 5000, async () => (await processesMentioning('handyrep-job-')).length === 0);
});

test('reclone a running replica from another replica: stopped, replaced, keeps its own configuration', async () => {
  const john = nodeOf(cluster, 'john');
  const george = nodeOf(cluster, 'george');
  const ownConf = readFileSync(join(george.dataDir, 'postgresql.conf'), 'utf8');
  const oldPid = george.postmasterPid();
  const rd = await hr.clone('george', true, 'paul');
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.source, 'paul');
  assert.equal(rd.upstream, 'john');
  assert.equal(rd.old_data, 'deleted');
  assert.notEqual(george.postmasterPid(), oldPid);
  assert.equal(readFileSync(join(george.dataDir, 'postgresql.conf'), 'utf8'), ownConf);
  assert.equal((await cluster.psql(george, 'SHOW cluster_name')).trim(), 'george');
  assert.deepEqual(await streamingFrom(cluster, john), ['george', 'paul', 'ringo']);
  const info = (await hr.get_server_info('george')).george;
  assert.equal(info?.enabled, true);
  assert.equal(info?.status, 'healthy', info?.status_message);
});

test('clone_rsync: reclone with a non-exclusive backup and rsync over ssh from the target', async () => {
  const john = nodeOf(cluster, 'john');
  const george = nodeOf(cluster, 'george');
  const altered = await hr.alter_server_def('george', { clone_method: 'clone_rsync' });
  assert.equal(altered.result, 'SUCCESS', altered.details);
  await cluster.psql(john, 'INSERT INTO cloned SELECT g FROM generate_series(1, 1000) g');
  const rd = await hr.clone('george', true);
  assert.equal(rd.result, 'SUCCESS', rd.details);
  const info = (await hr.get_server_info('george')).george;
  assert.equal(info?.status, 'healthy', info?.status_message);
  assert.ok((info?.action_progress?.bytes_done ?? 0) > 0, 'rsync progress reported');
  assert.equal((await cluster.psql(george, 'SELECT count(*) FROM cloned')).trim(), '6001');
  assert.equal((await cluster.psql(george, 'SHOW cluster_name')).trim(), 'george');
  assert.deepEqual(await streamingFrom(cluster, john), ['george', 'paul', 'ringo']);
  // The backup is over and its temporary slot gone.
  assert.equal((await cluster.psql(john, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'handyrep_clone%'")).trim(), '0');
  await hr.alter_server_def('george', { clone_method: 'clone_basebackup' });
});

test('archiving functions with archiving off: FAIL to start or stop, nothing to poll or clean up', async () => {
  const start = await hr.start_archiving();
  assert.equal(start.result, 'FAIL');
  assert.equal(start.details, 'Cannot start archiving because it is not configured.');
  assert.equal((await hr.stop_archiving()).result, 'FAIL');
  assert.deepEqual(await hr.poll_archiving(), { result: 'SUCCESS', details: 'archiving is disabled' });
  assert.deepEqual(await hr.cleanup_archive(), { result: 'SUCCESS', details: 'archiving is disabled; no archive cleanup' });
  await assert.rejects(() => hr.cleanup_archive('yes' as unknown as boolean), /dry_run/);
});
