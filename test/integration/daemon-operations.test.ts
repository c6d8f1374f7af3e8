/**
 * Every web function over real HTTP against a real 3-node cluster, with the RD or data checked,
 * in the original's URL forms: query strings with booleans as words, add_server with settings as
 * extra keys, the get_setting web form; and the same calls as POST with JSON or form bodies.
 * Functions of the operations table without a scenario here (added later) are still called: with
 * an invalid parameter, which must come back as a 400 RD naming it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATIONS } from '../../src/api/operations.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { webSignature } from '../../src/daemon/web-params.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { basic, http, waitUntil, type HttpOptions, type HttpReply } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const ADMIN = basic('op-admin');
let cluster: TestCluster;
let daemon: RunningDaemon;
const covered = new Set<string>();

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  const path = await writeConfig(cluster, {
    handyrep: { authentication_method: 'simple_password_auth' },
    passwords: { admin_password: 'op-admin', read_password: 'op-read' },
  });
  daemon = await startDaemon(path, { host: '127.0.0.1', port: 0, monitor: false, notice: () => undefined });
});

after(async () => {
  await daemon?.stop();
  await cluster?.stop();
});

/** Call a function as admin; records that the function was exercised. */
async function call(path: string, options: HttpOptions = {}): Promise<HttpReply> {
  const name = /^\/([^?/]+)/.exec(path)?.[1] ?? '';
  covered.add(name);
  return http(daemon.url, path, { ...options, headers: { authorization: ADMIN, ...options.headers } });
}

/** The call must answer 200 with an RD of `result`; returns the RD. */
async function rd(path: string, result: 'SUCCESS' | 'FAIL' = 'SUCCESS', options: HttpOptions = {}): Promise<Record<string, unknown>> {
  const reply = await call(path, options);
  assert.equal(reply.status, 200, `${path}: ${reply.text}`);
  const body = reply.json as Record<string, unknown>;
  assert.equal(body['result'], result, `${path}: ${reply.text}`);
  assert.equal(typeof body['details'], 'string');
  return body;
}

async function data(path: string, options: HttpOptions = {}): Promise<unknown> {
  const reply = await call(path, options);
  assert.equal(reply.status, 200, `${path}: ${reply.text}`);
  return reply.json;
}

async function serverInfo(name: string): Promise<Record<string, unknown>> {
  const info = (await http(daemon.url, `/get_server_info?servername=${name}`, { headers: { authorization: ADMIN } })).json as Record<string, Record<string, unknown>>;
  return info[name] ?? {};
}

const json = (body: unknown): HttpOptions => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const form = (body: string): HttpOptions => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

test('status functions, original URL forms (check_type, verify=False/t, serverrole)', async () => {
  const cached = (await data('/get_status')) as { cluster: { status: string }; servers: Record<string, unknown> };
  assert.deepEqual(Object.keys(cached.servers).sort(), ['george', 'john', 'paul']);
  const verified = (await data('/get_status?check_type=verify')) as { cluster: { status: string }; servers: Record<string, { status: string }> };
  assert.equal(verified.cluster.status, 'healthy');
  assert.equal(verified.servers['paul']?.status, 'healthy');
  const polled = (await data('/get_status?check_type=poll')) as { cluster: { status: string } };
  assert.equal(polled.cluster.status, 'healthy');
  assert.equal(((await data('/get_status', json({ check_type: 'cached' }))) as { cluster: { status: string } }).cluster.status, 'healthy');

  const cluster1 = (await data('/get_cluster_status?verify=t')) as { status: string; status_no: number };
  assert.deepEqual([cluster1.status, cluster1.status_no], ['healthy', 1]);
  assert.equal(((await data('/get_cluster_status', form('verify=No'))) as { status: string }).status, 'healthy');

  const master = await call('/get_master_name');
  assert.equal(master.text, '"john"', 'a JSON string, as the original');

  const paul = (await data('/get_server_info?servername=paul&verify=False')) as Record<string, { role: string; lag_bytes: number | null }>;
  assert.equal(paul['paul']?.role, 'replica');
  assert.equal(typeof paul['paul']?.lag_bytes, 'number');
  const all = (await data('/get_server_info?verify=yes')) as Record<string, unknown>;
  assert.equal(Object.keys(all).length, 3);
  assert.ok(!/password|handyrep_db_pass/i.test(JSON.stringify(all)), 'no passwords in server info');

  const replicas = (await data('/get_servers_by_role?serverrole=replica&verify=no')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(replicas).sort(), ['george', 'paul']);
  const masters = (await data('/get_servers_by_role', json({ serverrole: 'master', verify: true }))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(masters), ['john']);
});

test('log, settings and verbosity', async () => {
  const log = (await data('/read_log?numlines=5')) as { message: string }[];
  assert.ok(Array.isArray(log) && log.length > 0 && log.length <= 5);
  assert.equal(await data('/get_setting?category=failover&setting=poll_interval'), 10);
  assert.equal(await data('/get_setting?setting=cluster_name'), 'handyrep');
  const secret = await call('/get_setting?category=passwords&setting=admin_password');
  assert.equal(secret.status, 409);
  assert.doesNotMatch(secret.text, /op-admin/);
  const missing = await call('/get_setting?category=failover&setting=no_such_key');
  assert.equal(missing.status, 400);
  assert.equal((missing.json as { parameter: string }).parameter, 'setting');
  const quiet = await rd('/set_verbose?verbose=off');
  assert.equal(quiet['verbose'], false);
  assert.equal((await rd('/set_verbose', 'SUCCESS', form('verbose=ON')))['verbose'], true);
});

test('polls and verifications', async () => {
  assert.equal((await rd('/poll?servername=paul'))['status'], 'healthy');
  assert.equal((await rd('/poll_master'))['status'], 'healthy');
  const all = await rd('/poll_all');
  assert.equal(all['failover_ok'], true);
  assert.equal((await rd('/verify_server', 'SUCCESS', json({ servername: 'george' })))['status'], 'healthy');
  const verified = await rd('/verify_all');
  assert.deepEqual(Object.keys(verified['servers'] as object).sort(), ['george', 'john', 'paul']);
  assert.equal((await call('/poll?servername=ringo')).status, 404, 'unknown server');
  assert.match((await rd('/init_handyrep_db')).details as string, /ready/);
  assert.match((await rd('/reload_conf', 'SUCCESS', form(''))).details as string, /reloaded/);
});

test('server definitions: add_server with extra keys (original form), alter, validate, remove', async () => {
  const host = cluster.nodes[1]?.host as string;
  const added = await rd(`/add_server?servername=ringo&hostname=${host}&port=5433&failover_priority=5`);
  assert.deepEqual(
    [(added['definition'] as Record<string, unknown>)['port'], (added['definition'] as Record<string, unknown>)['enabled']],
    [5433, false],
  );
  const ringo = await serverInfo('ringo');
  assert.deepEqual([ringo['hostname'], ringo['port'], ringo['failover_priority'], ringo['enabled']], [host, 5433, 5, false]);
  const again = await call(`/add_server?servername=ringo&hostname=${host}`);
  assert.equal(again.status, 400, 'an existing name is refused');

  const altered = await rd('/alter_server_def?servername=ringo&port=5432&nofailover=true');
  assert.equal((altered['definition'] as Record<string, unknown>)['nofailover'], true);
  assert.equal((await serverInfo('ringo'))['port'], 5432);
  const badPort = await call('/alter_server_def?servername=ringo&port=abc');
  assert.equal(badPort.status, 400);
  assert.equal((badPort.json as { parameter: string }).parameter, 'port');

  // ringo points at paul's PostgreSQL, so its login works; an unreachable port gives an RD FAIL.
  await rd('/validate_server_settings?servername=ringo');
  const unreachable = await rd('/validate_server_settings', 'FAIL', json({ servername: 'ringo', serverdict: { port: 1 } }));
  assert.ok(unreachable['psql'], 'names the failing database login');
  await rd('/validate_server_settings?servername=ringo&serverdict={"port":1}', 'FAIL');

  await rd('/remove?servername=ringo');
  assert.equal((await call('/get_server_info?servername=ringo')).status, 404);
});

test('node control: shutdown, startup, restart, disable, enable', async () => {
  await rd('/shutdown?servername=george');
  assert.equal((await serverInfo('george'))['status'], 'down');
  await rd('/startup', 'SUCCESS', form('servername=george'));
  await rd('/restart?servername=george');
  assert.equal((await rd('/verify_server?servername=george'))['status'], 'healthy');

  await rd('/disable?servername=george');
  assert.equal((await serverInfo('george'))['enabled'], false);
  await rd('/enable?servername=george');
  await rd('/startup?servername=george');
  await waitUntil(async () => (await serverInfo('george'))['status'] === 'healthy' || (await rd('/verify_server?servername=george'))['status'] === 'healthy', 'george healthy again');
  assert.equal((await serverInfo('george'))['enabled'], true);
});

test('maintenance: pause with who and why (JSON body), shown in get_status and /metrics; resume; read password refused', async () => {
  const paused = await rd('/pause', 'SUCCESS', json({ by: 'alice', reason: 'kernel upgrade' }));
  assert.match(String(paused['details']), /failover paused by alice since .* \(kernel upgrade\)/);
  const cluster = ((await data('/get_status')) as { cluster: Record<string, unknown> }).cluster;
  assert.deepEqual([cluster['paused'], cluster['paused_by'], cluster['paused_reason']], [true, 'alice', 'kernel upgrade']);
  assert.equal(((await data('/get_cluster_status')) as Record<string, unknown>)['paused'], true);
  assert.match((await http(daemon.url, '/metrics')).text, /^handyrep_paused 1$/m);
  const read = await http(daemon.url, '/resume', { headers: { authorization: basic('op-read') } });
  assert.equal(read.status, 403, read.text);
  const bad = await call('/pause?by=%22%3Bx');
  assert.equal(bad.status, 400);
  assert.equal(((await data('/get_status')) as { cluster: Record<string, unknown> }).cluster['paused_by'], 'alice', 'a refused pause changes nothing');
  await rd('/resume');
  assert.equal(((await data('/get_status')) as { cluster: Record<string, unknown> }).cluster['paused'], false);
  assert.match((await http(daemon.url, '/metrics')).text, /^handyrep_paused 0$/m);
  await rd('/resume', 'FAIL');
});

test('topology functions when present: dry-run failover in the original URL form, history', async (t) => {
  if (!OPERATIONS.some((o) => o.name === 'manual_failover')) {
    t.skip('manual_failover is not in the operations table yet');
    return;
  }
  const plan = await call('/manual_failover?newmaster=paul&remaster=false&dry_run=true');
  assert.equal(plan.status, 200, plan.text);
  assert.ok(['SUCCESS', 'FAIL'].includes((plan.json as { result: string }).result));
  assert.equal(await data('/get_master_name'), 'john', 'a dry run changes nothing');
  if (OPERATIONS.some((o) => o.name === 'failover_history')) assert.ok(Array.isArray(await data('/failover_history')));
  for (const path of ['/promote?newmaster=nosuch', '/remaster?replicaserver=nosuch', '/rejoin?servername=nosuch', '/restart_master?whichmaster=nosuch']) {
    const name = path.slice(1, path.indexOf('?'));
    if (!OPERATIONS.some((o) => o.name === name)) continue;
    const reply = await call(path);
    assert.equal(reply.status, 404, `${path}: ${reply.text}`);
    assert.equal((reply.json as { result: string }).result, 'FAIL');
  }
});

test('connection failover functions without a connection plugin: nothing to do; a non-master target refused', async () => {
  assert.match(String((await rd('/connection_proxy_init'))['details']), /no connection failover configured/);
  assert.match(String((await rd('/connection_failover?newmaster=john'))['details']), /no connection failover configured/);
  assert.match(String((await rd('/connection_failover', 'FAIL', form('newmaster=paul')))['details']), /paul is not the master/);
});

test('every other web function is served: an invalid parameter comes back as a 400 RD naming it', async (t) => {
  const rest = OPERATIONS.filter((o) => o.web && !covered.has(o.name));
  for (const op of rest) {
    const sig = webSignature(op);
    const first = Object.keys(sig.params)[0];
    const query = first === undefined ? 'no_such_parameter=1' : `${first}=%22%3Bnot%20valid%20%E2%9C%97`;
    const reply = await call(`/${op.name}?${query}`);
    assert.equal(reply.status, 400, `${op.name}: ${reply.text}`);
    assert.equal((reply.json as { parameter: string }).parameter, first ?? 'no_such_parameter');
    t.diagnostic(`${op.name}: no scenario in this file, only the parameter check`);
  }
  assert.equal(await data('/get_master_name'), 'john');
});
