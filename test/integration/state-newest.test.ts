/**
 * Start-up state from several copies: the newest handyrep table wins even when a stale copy (an
 * old master's) is asked first; saved records that fail the configuration schema (a hostname or a
 * path carrying a command) are ignored and logged; an unusable newest copy falls back to the next;
 * a failover journal that cannot be read stops start-up.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { loadConfigFile } from '../../src/config/load.js';
import { HandyRepError } from '../../src/model/errors.js';
import { makeClusterStatus } from '../../src/model/status.js';
import { PgSqlClient } from '../../src/nodes/sql-client.js';
import { sqlTargetFor } from '../../src/runtime/plugin-context.js';
import { tableName } from '../../src/runtime/state-table-access.js';
import type { SavedState } from '../../src/store/saved-state.js';
import { writeServerFile } from '../../src/store/server-file.js';
import { createStateTable, writeStateTable } from '../../src/store/state-table.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

let cluster: TestCluster;
let configPath: string;
const PWNED = '/tmp/handyrep-state-newest-pwned';

before(async () => {
  // john the configured master, paul promoted behind HandyRep's back: two writable copies.
  cluster = await startCluster({ nodes: 2 });
  configPath = await writeConfig(cluster);
  const paul = cluster.nodes[1] as TestNode;
  await cluster.psql(paul, 'SELECT pg_promote(true, 30)');
});

after(async () => {
  await cluster?.stop();
  await rm(PWNED, { force: true });
});

function record(node: TestNode, role: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { hostname: node.host, port: node.port, pgdata: node.dataDir, role, enabled: true, ...extra };
}

function state(version: number, servers: Record<string, unknown>): SavedState {
  return {
    format: 'handyrep-state',
    version,
    updated_ms: Date.now(),
    servers: servers as SavedState['servers'],
    status: makeClusterStatus('unknown', '', new Date().toISOString()),
  };
}

async function writeTable(node: TestNode, saved: SavedState): Promise<void> {
  const { config } = loadConfigFile(configPath);
  const session = await new PgSqlClient().connect(sqlTargetFor(config, { hostname: node.host, port: node.port }, { connectMs: 3000, statementMs: 5000 }));
  try {
    await session.query(`DROP TABLE IF EXISTS ${tableName(config).schema}.${tableName(config).table}`);
    await createStateTable(session, tableName(config));
    assert.equal(await writeStateTable(session, tableName(config), saved, {}), true);
  } finally {
    await session.end();
  }
}

async function startupLog(): Promise<{ source: string; servers: string[]; warnings: string; info: Awaited<ReturnType<HandyRep['get_server_info']>> }> {
  const hr = await HandyRep.open(configPath, { memoryLog: true });
  try {
    const log = await hr.read_log(100);
    const line = log.find((e) => e.category === 'STARTUP' && e.message.includes('servers from'))?.message ?? '';
    const warnings = log.filter((e) => e.category === 'STARTUP' && e.level === 'warn').map((e) => e.message).join('\n');
    const info = await hr.get_server_info();
    return { source: line, servers: Object.keys(info).sort(), warnings, info };
  } finally {
    await hr.close();
  }
}

test('the newest table wins although a stale one (the configured master\'s) is asked first; malicious records are ignored', async () => {
  const [john, paul] = cluster.nodes as [TestNode, TestNode];
  await writeTable(john, state(5, { john: record(john, 'master'), paul: record(paul, 'replica'), stale_marker: { hostname: '127.0.0.97', role: 'replica', enabled: false } }));
  await writeTable(
    paul,
    state(9, {
      paul: record(paul, 'master'),
      john: record(john, 'replica', { fenced: true }),
      evil_host: { hostname: `127.0.0.1;touch ${PWNED}`, role: 'replica', enabled: false },
      evil_path: { hostname: '127.0.0.96', role: 'replica', enabled: false, pgdata: `/x/$(touch ${PWNED})` },
      evil_option: { hostname: '-oProxyCommand=x', role: 'replica', enabled: false },
      evil_dotdot: { hostname: '127.0.0.95', role: 'replica', enabled: false, pg_bin_dir: '../x' },
    }),
  );
  await rm(join(cluster.root, 'servers.save'), { force: true });
  const start = await startupLog();
  assert.deepEqual(start.servers, ['john', 'paul'], 'the newer copy, without the malicious records');
  assert.equal(start.info.paul?.role, 'master', 'the newer copy');
  assert.match(start.source, /servers from table \(handyrep table on paul \(version 9\) is the newest; also found: handyrep table on john \(version 5\)\)/);
  assert.match(start.warnings, /ignoring saved server record evil_host from the handyrep table on paul \(version 9\): hostname: must be a hostname/);
  assert.match(start.warnings, /ignoring saved server record evil_path .*: pgdata: must be a path/);
  assert.match(start.warnings, /ignoring saved server record evil_option .*: hostname: must be a hostname/);
  assert.match(start.warnings, /ignoring saved server record evil_dotdot .*: pg_bin_dir: must not contain "\.\." components/);
  assert.equal(existsSync(PWNED), false);
});

test('a newest copy whose master record fails the schema is not used: the next newest is, with a clear log line', async () => {
  const [john, paul] = cluster.nodes as [TestNode, TestNode];
  await writeServerFile(
    join(cluster.root, 'servers.save'),
    state(50, { john: record(john, 'master', { pg_bin_dir: `/usr/bin;touch ${PWNED}` }), paul: record(paul, 'replica') }),
  );
  const start = await startupLog();
  assert.doesNotMatch(String(start.info.john?.pg_bin_dir), /touch/, 'the malicious master record is not used');
  assert.equal(start.info.paul?.role, 'master', 'the table on paul is used');
  assert.match(start.warnings, /ignoring the saved state in the server file .*servers\.save \(version 50\): its master record john is invalid/);
  assert.match(start.source, /servers from table \(handyrep table on paul \(version \d+\) is the newest usable copy/);
  assert.deepEqual(start.servers, ['john', 'paul']);
  assert.equal(existsSync(PWNED), false);
});

test('an unreadable failover journal stops start-up with an error naming it; the lock is released', async () => {
  const journal = `${join(cluster.root, 'servers.save')}.journal`;
  await writeFile(journal, '{"id": "x", "kind": "failover", "steps": [{"name": "prom');
  try {
    await assert.rejects(HandyRep.open(configPath, { memoryLog: true }), (err: unknown) => {
      assert.ok(err instanceof HandyRepError, String(err));
      assert.equal(err.code, 'STATE_FILE');
      assert.match(err.message, /the failover journal .*servers\.save\.journal is not valid JSON .*repair or delete it/);
      return true;
    });
  } finally {
    await rm(journal, { force: true });
  }
  // Nothing was left locked: the next start (without the journal) works.
  const hr = await HandyRep.open(configPath, { memoryLog: true });
  await hr.close();
});

test('the recorded synchronous set travels in the handyrep table: a controller starting from the table (servers.save lost) knows it', async () => {
  const [john, paul] = cluster.nodes as [TestNode, TestNode];
  const sync = { members: ['john'], quorum: 1, master: 'paul', at: new Date().toISOString(), reason: 'ANY 1 of john' };
  await writeTable(paul, { ...state(1000, { paul: record(paul, 'master'), john: record(john, 'replica') }), sync, sync_history: [sync] });
  await rm(join(cluster.root, 'servers.save'), { force: true });
  const hr = await HandyRep.open(configPath, { memoryLog: true });
  try {
    const status = await hr.get_status();
    assert.deepEqual(status.sync?.recorded, sync, 'the set recorded in the table, not forgotten');
    assert.deepEqual(status.sync?.changes, [sync]);
  } finally {
    await hr.close();
  }
});
