/**
 * cleanup_archive on a synthetic archive (file ages set with touch -d) of a real 3-node cluster:
 * it deletes exactly the expired files no replica still needs — the lagging replica's restart
 * point bounds it — keeps everything else, deletes nothing in a dry run, and nothing at all when
 * a replica's needs cannot be read.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { healAll } from '../fixtures/faults.js';
import { POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { runOk } from '../fixtures/exec.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { nodeOf, postgresDir, waitUntil } from './clone-helpers.js';

let cluster: TestCluster;
let hr: HandyRep;
let archiveDir: string;

const segment = (position: number): string => `00000001${'0'.repeat(8)}${position.toString(16).toUpperCase().padStart(8, '0')}`;
const position = (name: string): number => parseInt(name.slice(16, 24), 16);

before(async () => {
  cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
  postgresDir(join(cluster.root, 'wal'), 0o755);
  archiveDir = postgresDir(join(cluster.root, 'wal', 'archive'), 0o700);
  const scripts = postgresDir(join(cluster.root, 'scripts'), 0o755);
  const path = await writeConfig(cluster, {
    archive: {
      archiving: true,
      archive_script_method: 'archive_local_dir',
      archive_delete_method: 'archive_delete_find',
      archive_directory: archiveDir,
      archive_script_path: join(scripts, 'archive.sh'),
      no_archive_file: join(scripts, 'noarchive'),
      archive_delete_hours: 48,
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

async function advanceWal(segments: number): Promise<void> {
  const john = nodeOf(cluster, 'john');
  await cluster.psql(john, 'CREATE TABLE IF NOT EXISTS walgen (n int)');
  for (let i = 0; i < segments; i += 1) await cluster.psql(john, 'INSERT INTO walgen VALUES (1); SELECT pg_switch_wal()');
  await cluster.psql(john, 'CHECKPOINT');
}

async function caughtUp(replica: string): Promise<void> {
  const lsn = (await cluster.psql(nodeOf(cluster, 'john'), 'SELECT pg_current_wal_lsn()')).trim();
  await waitUntil(`${replica} to replay ${lsn}`, 20000, async () => (await cluster.psql(nodeOf(cluster, replica), `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)).trim() === 't');
}

/** The replica's restart point, as PostgreSQL itself names its segment. */
async function redoSegment(replica: string): Promise<string> {
  return (await cluster.psql(nodeOf(cluster, replica), 'SELECT redo_wal_file FROM pg_control_checkpoint()')).trim();
}

async function touchOld(name: string, hoursAgo: number): Promise<void> {
  const when = new Date(Date.now() - hoursAgo * 3600_000).toISOString();
  await runOk('/usr/bin/touch', ['-d', when, join(archiveDir, name)], { asPostgres: true });
}

test('cleanup_archive deletes exactly the expired files that no replica needs', async () => {
  // george's restart point stays behind paul's: only paul restarts after the second advance.
  await advanceWal(4);
  await caughtUp('george');
  await caughtUp('paul');
  await cluster.psql(nodeOf(cluster, 'george'), 'CHECKPOINT');
  await advanceWal(4);
  await caughtUp('paul');
  await cluster.psql(nodeOf(cluster, 'paul'), 'CHECKPOINT');
  const georgeNeeds = position(await redoSegment('george'));
  const paulNeeds = position(await redoSegment('paul'));
  assert.ok(georgeNeeds >= 4 && paulNeeds > georgeNeeds, `george needs ${georgeNeeds}, paul ${paulNeeds}`);

  const old: string[] = [];
  for (let p = 1; p <= paulNeeds + 2; p += 1) {
    if (p === georgeNeeds - 1) continue;
    old.push(segment(p));
  }
  const young = [segment(georgeNeeds - 1)];
  const others = ['00000002.history', 'README', `.${segment(1)}.tmp.123`];
  for (const name of old) await touchOld(name, 100);
  for (const name of others) await touchOld(name, 100);
  for (const name of young) await touchOld(name, 1);
  const all = [...old, ...young, ...others].sort();
  assert.deepEqual(readdirSync(archiveDir).sort(), all);
  const expected = old.filter((name) => position(name) < georgeNeeds).sort();
  console.log(`# george needs from ${segment(georgeNeeds)}, paul from ${segment(paulNeeds)}; ${expected.length} of ${all.length} files expired and unneeded`);

  const dry = await hr.cleanup_archive(true);
  assert.equal(dry.result, 'SUCCESS', dry.details);
  assert.deepEqual(dry.to_delete, expected);
  assert.equal(dry.deleted, 0);
  assert.match(dry.boundary?.who ?? '', /replica george \(restart point/);
  assert.equal(dry.boundary?.segment, segment(georgeNeeds));
  assert.deepEqual(readdirSync(archiveDir).sort(), all);

  // A replica whose needs cannot be read: nothing is deleted.
  const paul = nodeOf(cluster, 'paul');
  await paul.stop('fast');
  try {
    const refused = await hr.cleanup_archive();
    assert.equal(refused.result, 'FAIL');
    assert.match(refused.details, /nothing deleted: cannot tell which WAL replica paul still needs/);
    assert.deepEqual(readdirSync(archiveDir).sort(), all);
  } finally {
    await paul.start();
  }

  const rd = await hr.cleanup_archive();
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.deleted, expected.length);
  assert.deepEqual(readdirSync(archiveDir).sort(), all.filter((n) => !expected.includes(n)));
  // What george still needs (between its restart point and paul's) is all there.
  for (let p = georgeNeeds; p <= paulNeeds; p += 1) assert.ok(readdirSync(archiveDir).includes(segment(p)), `${segment(p)} kept`);
  const again = await hr.cleanup_archive();
  assert.equal(again.deleted, 0, again.details);
});
