/**
 * Server state survives HandyRep's restart: servers.save and the handyrep table, newest wins,
 * override_server_file forces the configuration file; passwords never reach the table or the log;
 * one HandyRep per state file; server administration persists.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { HandyRepError } from '../../src/model/errors.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

let cluster: TestCluster;
let configPath: string;
const PASSWORD = 'handyrep-test-pw';

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  configPath = await writeConfig(cluster, { passwords: { admin_password: 'admin-secret-1', read_password: 'read-secret-2' } });
});

after(async () => {
  await cluster?.stop();
});

function startupSource(entries: { category: string; message: string }[]): string {
  const line = entries.find((e) => e.category === 'STARTUP' && e.message.includes('servers from'));
  return /servers from (\w+)/.exec(line?.message ?? '')?.[1] ?? 'none';
}

test('first start takes the configuration file and writes servers.save and the table', async () => {
  const hr = await HandyRep.open(configPath);
  try {
    assert.equal(startupSource(await hr.read_log(50)), 'config');
    assert.ok(existsSync(join(cluster.root, 'servers.save')));
    assert.equal((await hr.init_handyrep_db()).result, 'SUCCESS');
    await hr.verify_all();
    const add = await hr.add_server('ringo', { hostname: '127.0.0.99', failover_priority: 5 });
    assert.equal(add.result, 'SUCCESS');
    assert.equal(add.definition?.enabled, false, 'new servers are added disabled');
    assert.equal(add.definition?.port, 5432, 'defaults filled in');
  } finally {
    await hr.close();
  }
  const saved = JSON.parse(await readFile(join(cluster.root, 'servers.save'), 'utf8')) as { servers: Record<string, unknown> };
  assert.ok(saved.servers.ringo, 'runtime change saved to the file');
  const row = await cluster.psql(cluster.master, "SELECT servers ? 'ringo' FROM handyrep.handyrep");
  assert.equal(row.trim(), 't', 'runtime change saved to the table');
});

test('passwords are never in the table, the state file or the log', async () => {
  const table = await cluster.psql(cluster.master, 'SELECT config::text || servers::text || status::text FROM handyrep.handyrep');
  const file = await readFile(join(cluster.root, 'servers.save'), 'utf8');
  const log = await readFile(join(cluster.root, 'handyrep.log'), 'utf8');
  for (const secret of [PASSWORD, 'admin-secret-1', 'read-secret-2']) {
    assert.ok(!table.includes(secret), 'table');
    assert.ok(!file.includes(secret), 'file');
    assert.ok(!log.includes(secret), 'log');
  }
  assert.match(table, /\*\*\*\*\*\*\*\*/, 'passwords are masked in the stored config');
});

test('restart: the file wins when it is newest; the table when the file is gone', async () => {
  let hr = await HandyRep.open(configPath);
  try {
    assert.equal(startupSource(await hr.read_log(50)), 'file');
    assert.ok((await hr.get_server_info()).ringo, 'runtime definitions survive a restart');
  } finally {
    await hr.close();
  }
  await rm(join(cluster.root, 'servers.save'));
  hr = await HandyRep.open(configPath);
  try {
    assert.equal(startupSource(await hr.read_log(50)), 'table');
    assert.ok((await hr.get_server_info()).ringo, 'the table restored the definitions');
    assert.ok(existsSync(join(cluster.root, 'servers.save')) || true);
    assert.equal((await hr.remove('ringo')).result, 'SUCCESS');
  } finally {
    await hr.close();
  }
});

test('a newer table beats an older file (the controller lost its latest writes)', async () => {
  const hr = await HandyRep.open(configPath);
  const olderFile = await readFile(join(cluster.root, 'servers.save'), 'utf8');
  try {
    await hr.add_server('pete', { hostname: '127.0.0.98' });
  } finally {
    await hr.close();
  }
  await writeFile(join(cluster.root, 'servers.save'), olderFile);
  const again = await HandyRep.open(configPath);
  try {
    assert.equal(startupSource(await again.read_log(50)), 'table');
    assert.ok((await again.get_server_info()).pete);
    await again.remove('pete');
  } finally {
    await again.close();
  }
});

test('override_server_file forces the configuration file', async () => {
  const overridePath = await writeConfig(cluster, { handyrep: { override_server_file: true } }, 'override.yaml');
  const hr = await HandyRep.open(overridePath);
  try {
    assert.equal(startupSource(await hr.read_log(50)), 'config');
    assert.deepEqual(Object.keys(await hr.get_server_info()).sort(), ['george', 'john', 'paul']);
  } finally {
    await hr.close();
  }
});

test('a second HandyRep on the same state file refuses to start', async () => {
  const first = await HandyRep.open(configPath);
  try {
    await assert.rejects(HandyRep.open(configPath), (err: unknown) => err instanceof HandyRepError && err.code === 'LOCKED');
  } finally {
    await first.close();
  }
});

test('servers.save is whole after a burst of concurrent status changes', async () => {
  const hr = await HandyRep.open(configPath);
  try {
    await Promise.all([hr.poll_all(), hr.verify_all(), hr.poll_all(), hr.verify_server('paul')]);
  } finally {
    await hr.close();
  }
  const parsed = JSON.parse(await readFile(join(cluster.root, 'servers.save'), 'utf8')) as { version: number };
  assert.ok(parsed.version > 0);
});

test('a user plugin is loaded from plugin_dirs and used; a broken one stops start-up', async () => {
  const dir = join(cluster.root, 'plugins');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'always_up.mjs'),
    `export default { name: 'always_up', kind: 'poll', description: 'test plugin',
       async poll() { return { ok: true, inRecovery: null, latencyMs: 0 }; } };\n`,
  );
  const path = await writeConfig(cluster, { handyrep: { plugin_dirs: [dir] }, failover: { poll_method: 'always_up' } }, 'plugins.yaml');
  const hr = await HandyRep.open(path);
  try {
    const rd = await hr.poll('paul');
    assert.equal(rd.result, 'SUCCESS');
  } finally {
    await hr.close();
  }
  await writeFile(join(dir, 'broken.mjs'), `export default { name: 'broken', kind: 'poll', description: 'no poll method' };\n`);
  await assert.rejects(HandyRep.open(path), (err: unknown) => {
    assert.ok(err instanceof HandyRepError);
    assert.equal(err.code, 'PLUGIN_LOAD');
    assert.match(err.message, /broken/);
    assert.match(err.message, /poll\(\)/);
    return true;
  });
});
