/**
 * Connection failover with a real pgbouncer (Debian's package) on george's host: HandyRep writes
 * its databases file over ssh and reloads it through the admin console. A client that only
 * knows the pgbouncer address writes to john, then after john is SIGKILLed and HandyRep fails
 * over, writes to the new master through the same address.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, chownSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { postgresUser } from '../fixtures/exec.js';
import { crash, healAll } from '../fixtures/faults.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY, waitFor } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { waitForTcp } from '../fixtures/net.js';
import { isAlive, signal, waitGone } from '../fixtures/proc.js';
import { track, untrack } from '../fixtures/processes.js';

const PGBOUNCER = '/usr/sbin/pgbouncer';
const BOUNCER_PORT = 6432;

let cluster: TestCluster;
let hr: HandyRep;
let bouncerHost = '';
let bouncerDir = '';
let bouncerPid: number | null = null;

function node(name: string): TestNode {
  const n = cluster.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

/** Starts pgbouncer as postgres, reading the databases file HandyRep writes through %include. */
async function startBouncer(): Promise<void> {
  const user = postgresUser();
  const ini = join(bouncerDir, 'pgbouncer.ini');
  const child = spawn(PGBOUNCER, [ini], { uid: user.uid, gid: user.gid, stdio: 'ignore', detached: true });
  if (child.pid === undefined) throw new Error('pgbouncer did not start');
  bouncerPid = child.pid;
  track(child.pid, 'pgbouncer');
  child.unref();
  await waitForTcp(bouncerHost, BOUNCER_PORT, 'open', 10_000);
}

async function stopBouncer(): Promise<void> {
  if (bouncerPid === null) return;
  const pid = bouncerPid;
  bouncerPid = null;
  if (isAlive(pid)) signal(pid, 'SIGKILL');
  await waitGone([pid]);
  untrack(pid);
}

/** One session through pgbouncer: where it lands and whether a write commits there. */
async function throughBouncer(database: string, sql = 'SELECT host(inet_server_addr()) AS addr, pg_is_in_recovery() AS in_recovery'): Promise<{ addr: string; in_recovery: boolean }> {
  const client = new pg.Client({ host: bouncerHost, port: BOUNCER_PORT, user: 'postgres', database, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const rows = (await client.query<{ addr: string; in_recovery: boolean }>(sql)).rows;
    return rows[0] as { addr: string; in_recovery: boolean };
  } finally {
    await client.end().catch(() => undefined);
  }
}

before(async () => {
  cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
  bouncerHost = node('george').host;
  bouncerDir = join(cluster.root, 'pgbouncer');
  const user = postgresUser();
  mkdirSync(bouncerDir, { recursive: true });
  chownSync(bouncerDir, user.uid, user.gid);
  const databasesFile = join(bouncerDir, 'handyrep_databases.ini');
  const files: Record<string, string> = {
    'userlist.txt': `"postgres" ""\n"handyrep" "${cluster.passwords.handyrep_db_pass}"\n`,
    'handyrep_databases.ini': '[databases]\n',
    'pgbouncer.ini': [
      '[pgbouncer]',
      `listen_addr = ${bouncerHost}`,
      `listen_port = ${BOUNCER_PORT}`,
      `unix_socket_dir = ${bouncerDir}`,
      'auth_type = trust',
      `auth_file = ${join(bouncerDir, 'userlist.txt')}`,
      'admin_users = handyrep',
      'pool_mode = session',
      'server_login_retry = 1',
      'server_connect_timeout = 2',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${join(bouncerDir, 'pgbouncer.log')}`,
      `pidfile = ${join(bouncerDir, 'pgbouncer.pid')}`,
      `%include ${databasesFile}`,
      '',
    ].join('\n'),
  };
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(bouncerDir, name), content, { mode: 0o644 });
    chownSync(join(bouncerDir, name), user.uid, user.gid);
  }
  await startBouncer();

  const path = await writeConfig(cluster, {
    failover: { ...FAILOVER_TEST_SETTINGS, connection_failover_method: 'multi_pgbouncer', poll_connection_proxy: true },
    plugins: { multi_pgbouncer: { config_location: databasesFile, database_list: ['postgres'] } },
    servers: { bouncer: { hostname: bouncerHost, port: BOUNCER_PORT, role: 'pgbouncer' } },
  });
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
  assert.equal((await hr.verify_all()).result, 'SUCCESS');
});

after(async () => {
  await hr?.close();
  await healAll();
  await stopBouncer();
  await cluster?.stop();
});

test('connection_proxy_init points pgbouncer at the master, read-only aliases at a replica', async () => {
  const rd = await hr.connection_proxy_init();
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.proxies?.bouncer?.ok, true);
  const file = readFileSync(join(bouncerDir, 'handyrep_databases.ini'), 'utf8');
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
  const before = readFileSync(join(bouncerDir, 'handyrep_databases.ini'), 'utf8');
  const rd = await hr.connection_failover('paul');
  assert.equal(rd.result, 'FAIL');
  assert.match(rd.details, /paul is not the master/);
  await assert.rejects(() => hr.connection_failover('no;such`server'), /newmaster/);
  assert.equal(readFileSync(join(bouncerDir, 'handyrep_databases.ini'), 'utf8'), before);
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
