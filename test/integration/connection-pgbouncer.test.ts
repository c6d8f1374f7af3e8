/**
 * Connection failover with a real pgbouncer (Debian's package) on george's host: HandyRep writes
 * its databases file over ssh and reloads it through the admin console. A client that only
 * knows the pgbouncer address writes to john, then after john is SIGKILLed and HandyRep fails
 * over, writes to the new master through the same address.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { deepMerge } from '../fixtures/config.js';
import { crash, healAll } from '../fixtures/faults.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY, waitFor } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { startBouncer as startPgbouncer, type Bouncer } from '../fixtures/pgbouncer.js';

let cluster: TestCluster;
let hr: HandyRep;
let bouncer: Bouncer;

function node(name: string): TestNode {
  const n = cluster.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

const throughBouncer = (database: string, sql?: string): Promise<{ addr: string; in_recovery: boolean }> => bouncer.query(database, sql);
const stopBouncer = (): Promise<void> => bouncer.stop();
const startBouncer = (): Promise<void> => bouncer.start();

before(async () => {
  cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
  bouncer = await startPgbouncer(cluster, node('george').host);
  const path = await writeConfig(cluster, deepMerge(bouncer.config(), { failover: { ...FAILOVER_TEST_SETTINGS, poll_connection_proxy: true } }));
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
  assert.equal((await hr.verify_all()).result, 'SUCCESS');
});

after(async () => {
  await hr?.close();
  await healAll();
  await bouncer?.stop();
  await cluster?.stop();
});

test('connection_proxy_init points pgbouncer at the master, read-only aliases at a replica', async () => {
  const rd = await hr.connection_proxy_init();
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.proxies?.bouncer?.ok, true);
  const file = readFileSync(bouncer.databasesFile, 'utf8');
  assert.match(file, new RegExp(`^postgres = host=${node('john').host} port=5432 dbname=postgres$`, 'm'));
  const rw = await throughBouncer('postgres');
  assert.equal(rw.addr, node('john').host);
  assert.equal(rw.in_recovery, false);
  const ro = await throughBouncer('postgres_ro');
  assert.equal(ro.in_recovery, true);
  assert.ok([node('paul').host, node('george').host].includes(ro.addr), ro.addr);
  assert.equal((await hr.get_server_info('bouncer')).bouncer?.status, 'healthy');
  assert.equal((await hr.poll('bouncer')).status, 'healthy');
  assert.equal((await hr.get_cluster_status()).status, 'healthy');
});

test('connection_failover refuses a server that is not the master and changes nothing', async () => {
  const before = readFileSync(bouncer.databasesFile, 'utf8');
  const rd = await hr.connection_failover('paul');
  assert.equal(rd.result, 'FAIL');
  assert.match(rd.details, /paul is not the master/);
  await assert.rejects(() => hr.connection_failover('no;such`server'), /newmaster/);
  assert.equal(readFileSync(bouncer.databasesFile, 'utf8'), before);
});

test('master SIGKILLed: the failover repoints pgbouncer, clients write to the new master through it', { timeout: 90_000 }, async () => {
  await throughBouncer('postgres', 'CREATE TABLE IF NOT EXISTS bouncer_probe (id int)');
  await crash(node('john'));
  const rd = await hr.failover_check(false);
  assert.equal(rd.result, 'SUCCESS', rd.details);
  const master = await hr.get_master_name();
  assert.ok(master === 'paul' || master === 'george', String(master));
  const history = (await hr.failover_history(1))[0];
  const step = history?.steps.find((s) => s.name === 'connection_failover');
  assert.equal(step?.outcome, 'ok', JSON.stringify(history?.steps));
  let landed = { addr: '', in_recovery: true };
  await waitFor(async () => {
    landed = await throughBouncer('postgres').catch(() => ({ addr: '', in_recovery: true }));
    return !landed.in_recovery;
  }, 'a writable session through pgbouncer', 10_000);
  assert.equal(landed.addr, node(master).host);
  const wrote = await throughBouncer('postgres', "INSERT INTO bouncer_probe VALUES (1) RETURNING host(inet_server_addr()) AS addr, pg_is_in_recovery() AS in_recovery");
  assert.equal(wrote.addr, node(master).host);
});

test('pgbouncer down: connection_failover FAILs naming it, the proxy is marked, the cluster status is unchanged', { timeout: 60_000 }, async () => {
  const clusterBefore = (await hr.get_cluster_status()).status;
  await stopBouncer();
  const rd = await hr.connection_failover();
  assert.equal(rd.result, 'FAIL');
  assert.match(rd.details, /bouncer/);
  assert.equal(rd.proxies?.bouncer?.ok, false);
  assert.notEqual((await hr.get_server_info('bouncer')).bouncer?.status, 'healthy');
  assert.equal((await hr.verify_server('bouncer')).result, 'FAIL');
  assert.equal((await hr.get_cluster_status()).status, clusterBefore);
  await startBouncer();
  const again = await hr.connection_failover();
  assert.equal(again.result, 'SUCCESS', again.details);
  assert.equal((await hr.get_server_info('bouncer')).bouncer?.status, 'healthy');
});
