/**
 * Replication passwords with awkward characters against a real server (issue 11): what clone and
 * rejoin write to postgresql.auto.conf must be read back by PostgreSQL's configuration parser and
 * then libpq's conninfo parser as exactly the password, and the replica must stream.
 *
 * Replication by `replicator` needs scram-sha-256 on every node here (a pg_hba line put first).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { confLines, conninfoString } from '../../src/nodes/pg-conf-quote.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { healAll } from '../fixtures/faults.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { nodeOf, waitUntil } from './clone-helpers.js';

/** Each alone, then all together (the last one is what clone and switchover run with). */
const PASSWORDS = [
  "it's",
  'back\\slash',
  'ends with backslash\\',
  'with spaces  inside',
  'hash#not a comment',
  'a=b c=d',
  "\\'",
  'ünïcødé ✓ 密码',
  "all: ' \\ # = ü \\' ''",
] as const;
const ALL = PASSWORDS[PASSWORDS.length - 1] as string;

let cluster: TestCluster;
let hr: HandyRep | undefined;

/** SQL string literal (standard_conforming_strings is on: only `'` is special). */
function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

async function setReplicationPassword(password: string): Promise<void> {
  // Set on the master: the replicas replay it, so whichever node is master later has it too.
  const master = cluster.nodes.find((n) => n.name === 'john') as TestNode;
  await cluster.psql(master, `ALTER ROLE replicator PASSWORD ${sqlLiteral(password)}`);
}

async function walReceiverStatus(node: TestNode): Promise<string> {
  return (await cluster.psql(node, 'SELECT status FROM pg_stat_wal_receiver').catch(() => '')).trim();
}

before(async () => {
  cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
  for (const node of cluster.nodes) {
    const hba = join(node.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host replication replicator 127.0.0.0/8 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await cluster.psql(node, 'SELECT pg_reload_conf()');
  }
});

after(async () => {
  await hr?.close();
  healAll();
  await cluster?.stop();
});

test('each password, written as clone and rejoin write it, is read back exactly and streams', async () => {
  const george = nodeOf(cluster, 'george');
  const john = nodeOf(cluster, 'john');
  for (const password of PASSWORDS) {
    await setReplicationPassword(password);
    await george.stop('fast');
    const conninfo = conninfoString([
      { key: 'host', value: john.host, setting: 'host' },
      { key: 'port', value: String(john.port), setting: 'port' },
      { key: 'user', value: 'replicator', setting: 'user' },
      { key: 'application_name', value: 'george', setting: 'name' },
      { key: 'password', value: password, setting: 'passwords.replication_pass' },
    ]);
    appendFileSync(join(george.dataDir, 'postgresql.auto.conf'), confLines({ primary_conninfo: conninfo }));
    await george.start();
    // The configuration parser gave back exactly the conninfo (not cut, not re-escaped) ...
    assert.equal(await cluster.psql(george, 'SHOW primary_conninfo'), conninfo, `password ${JSON.stringify(password)}`);
    // ... and libpq read exactly the password from it: authentication passes and it streams.
    await waitUntil(`george streaming with password ${JSON.stringify(password)}`, 20_000, async () => (await walReceiverStatus(george)) === 'streaming');
  }
});

test('clone and switchover (rejoin of the old master) with a password holding all of them', async () => {
  await setReplicationPassword(ALL);
  const path = await writeConfig(cluster, {
    passwords: { replication_pass: ALL },
    failover: { ...FAILOVER_TEST_SETTINGS, auto_rejoin: true },
  });
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
  assert.equal((await hr.verify_all()).result, 'SUCCESS');

  const cloned = await hr.clone('george', true);
  assert.equal(cloned.result, 'SUCCESS', cloned.details);
  const george = nodeOf(cluster, 'george');
  assert.equal(await walReceiverStatus(george), 'streaming');
  assert.match(readFileSync(join(george.dataDir, 'postgresql.auto.conf'), 'utf8'), /written by HandyRep clone\nprimary_conninfo = '/);

  // The old master john rejoins through a primary_conninfo line appended to its auto.conf: with a
  // broken line PostgreSQL would not start, and the switchover would report the rejoin failed.
  const switched = await hr.manual_failover('paul', true);
  assert.equal(switched.result, 'SUCCESS', switched.details);
  const john = nodeOf(cluster, 'john');
  await waitUntil('john streaming from paul', 20_000, async () => (await walReceiverStatus(john)) === 'streaming');
  const info = await hr.get_server_info();
  assert.equal(info['john']?.role, 'replica');
  assert.equal(info['john']?.enabled, true);
});

test('a replication password with a line break is refused at load, naming the setting; the node is untouched', async () => {
  await hr?.close();
  hr = undefined;
  const george = nodeOf(cluster, 'george');
  const before = readFileSync(join(george.dataDir, 'postgresql.auto.conf'), 'utf8');
  const path = await writeConfig(cluster, { passwords: { replication_pass: "x'\nrestore_command = 'touch /tmp/pwned" } }, 'handyrep-newline.yaml');
  await assert.rejects(() => HandyRep.open(path), /passwords\.replication_pass.*control characters/s);
  assert.equal(readFileSync(join(george.dataDir, 'postgresql.auto.conf'), 'utf8'), before);
});
