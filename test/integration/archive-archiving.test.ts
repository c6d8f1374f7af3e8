/**
 * WAL archiving on a real 3-node cluster (archive_mode on, archive_command calling the script
 * HandyRep pushes): start_archiving pushes the script and sets the replicas' restore_command, a
 * failing archiver turns the master `warning` at verification, stop_archiving's flag file makes the
 * script skip segments, and a clone gets the restore_command too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { healAll } from '../fixtures/faults.js';
import { POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { nodeOf, postgresDir, waitUntil } from './clone-helpers.js';

let cluster: TestCluster;
let hr: HandyRep;
let archiveDir: string;
let script: string;
let flag: string;

before(async () => {
  cluster = await startCluster({ nodes: 3, postgresConf: { ...POSTGRES_FAST_RETRY, archive_mode: 'on' } });
  postgresDir(join(cluster.root, 'wal'), 0o755);
  archiveDir = join(cluster.root, 'wal', 'archive');
  const scripts = postgresDir(join(cluster.root, 'scripts'), 0o755);
  script = join(scripts, 'archive.sh');
  flag = join(scripts, 'noarchive');
  for (const node of cluster.nodes) {
    await cluster.psql(node, `ALTER SYSTEM SET archive_command = '${script} %p %f'`);
    await cluster.psql(node, 'SELECT pg_reload_conf()');
  }
  const path = await writeConfig(cluster, {
    archive: {
      archiving: true,
      archive_script_method: 'archive_local_dir',
      archive_delete_method: 'archive_delete_find',
      archive_directory: archiveDir,
      archive_script_path: script,
      no_archive_file: flag,
      archive_warn_seconds: 3600,
    },
  });
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
});

after(async () => {
  await hr?.close();
  healAll();
  await cluster?.stop();
});

const john = (): ReturnType<typeof nodeOf> => nodeOf(cluster, 'john');

/** Write, switch to a new segment; returns the name of the segment just finished. */
async function finishSegment(): Promise<string> {
  await cluster.psql(john(), 'CREATE TABLE IF NOT EXISTS walgen (n int); INSERT INTO walgen VALUES (1)');
  return (await cluster.psql(john(), 'SELECT pg_walfile_name(pg_switch_wal())')).trim();
}

async function archiver(): Promise<{ archived: number; failed: number; last: string }> {
  const [archived, failed, last] = (await cluster.psql(john(), "SELECT archived_count, failed_count, coalesce(last_archived_wal, '') FROM pg_stat_archiver")).trim().split('|');
  return { archived: Number(archived), failed: Number(failed), last: last ?? '' };
}

test('start_archiving pushes the script, removes the flag and sets the replicas\' restore_command', async () => {
  const rd = await hr.start_archiving();
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.deepEqual(rd.notes, []);
  assert.ok(existsSync(script));
  const segment = await finishSegment();
  await waitUntil(`${segment} archived`, 30000, async () => existsSync(join(archiveDir, segment)));
  await waitUntil('a healthy master', 10000, async () => (await hr.verify_master()).status === 'healthy', 500);
  const poll = await hr.poll_archiving();
  assert.equal(poll.result, 'SUCCESS', poll.details);
  for (const name of ['paul', 'george']) {
    assert.equal((await cluster.psql(nodeOf(cluster, name), 'SHOW restore_command')).trim(), `cp ${archiveDir}/%f %p`);
  }
});

test('a failing archiver (archive folder not writable) makes the master warning at verification, and recovers', async () => {
  chmodSync(archiveDir, 0o500);
  try {
    await finishSegment();
    await waitUntil('archive failures', 20000, async () => (await archiver()).failed > 0);
    const verify = await hr.verify_master();
    assert.equal(verify.result, 'SUCCESS', verify.details);
    assert.equal(verify.status, 'warning');
    assert.match(verify.details, /master passed verification; archiving: archiving is failing: the last attempt \([0-9A-F]{24}\) failed/);
    const poll = await hr.poll_archiving();
    assert.equal(poll.result, 'FAIL');
    assert.match(poll.warning ?? '', /archiving is failing/);
    assert.equal((await hr.get_cluster_status()).status, 'warning');
    assert.ok(((await hr.get_server_info('john')).john?.archive_failed_count ?? 0) > 0);
  } finally {
    chmodSync(archiveDir, 0o700);
  }
  const segment = await finishSegment();
  await waitUntil(`${segment} archived after the folder is writable again`, 90000, async () => existsSync(join(archiveDir, segment)), 500);
  await waitUntil('a healthy master again', 10000, async () => (await hr.verify_master()).status === 'healthy', 500);
});

test('stop_archiving: while the flag exists the script skips segments; start_archiving resumes', async () => {
  const stopped = await hr.stop_archiving();
  assert.equal(stopped.result, 'SUCCESS', stopped.details);
  assert.ok(existsSync(flag));
  const before = await archiver();
  const skipped = await finishSegment();
  await waitUntil('the archiver to pass the segment', 20000, async () => (await archiver()).last === skipped);
  assert.equal((await archiver()).failed, before.failed);
  assert.equal(existsSync(join(archiveDir, skipped)), false, 'not copied while stopped');

  const started = await hr.start_archiving();
  assert.equal(started.result, 'SUCCESS', started.details);
  assert.equal(existsSync(flag), false);
  const copied = await finishSegment();
  await waitUntil(`${copied} archived`, 20000, async () => existsSync(join(archiveDir, copied)));
  assert.ok(readdirSync(archiveDir).length >= 2);
});

test('cleanup_archive with nothing expired deletes nothing', async () => {
  const rd = await hr.cleanup_archive();
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.deleted, 0);
});

test('a reclone gets the restore_command and the archive script', async () => {
  const rd = await hr.clone('george', true);
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal((await cluster.psql(nodeOf(cluster, 'george'), 'SHOW restore_command')).trim(), `cp ${archiveDir}/%f %p`);
});
