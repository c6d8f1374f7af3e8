/**
 * Authentication over real HTTP with simple_password_auth: every web function × (no credentials,
 * wrong password, read password, admin password) → 401 / 401 / 403 or 200 / passes; refused calls
 * change nothing (get_server_info and servers.save compared around each function's refusals);
 * wrong passwords are logged without the password and slow the address down until the admin
 * password is given (security-throttle.test.ts tests the limits); reload_conf switches
 * passwords at once; health, metrics and the OpenAPI document need none.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OPERATIONS, type OperationSpec } from '../../src/api/operations.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { webSignature } from '../../src/daemon/web-params.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { basic, http, type HttpReply } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const PASSWORDS = { admin_password: 'matrix-admin-7', read_password: 'matrix-read-7' };
const WRONG = 'matrix-wrong-7';
let cluster: TestCluster;
let daemon: RunningDaemon;
let configPath: string;

const configOverrides = (passwords: Record<string, string>) => ({
  handyrep: { authentication_method: 'simple_password_auth' },
  passwords,
  daemon: { auth_failure_delay_seconds: 0.04, auth_failure_delay_max_seconds: 0.16 },
});

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  configPath = await writeConfig(cluster, configOverrides(PASSWORDS));
  daemon = await startDaemon(configPath, { host: '127.0.0.1', port: 0, monitor: false, notice: () => undefined });
  // One verification, so statuses are real; the matrix must then leave them exactly as they are.
  const verified = await http(daemon.url, '/verify_all', { headers: { authorization: basic(PASSWORDS.admin_password) } });
  assert.equal(verified.status, 200);
});

after(async () => {
  await daemon?.stop();
  await cluster?.stop();
});

/** Parameters that make a read function succeed. */
function readQuery(op: OperationSpec): string {
  const sample: Record<string, string> = { setting: 'poll_interval', category: 'failover' };
  const sig = webSignature(op);
  return Object.keys(sig.params)
    .filter((name) => sig.required.includes(name) || Object.hasOwn(sample, name))
    .map((name) => `${name}=${encodeURIComponent(sample[name] ?? cluster.master.name)}`)
    .join('&');
}

/** Parameters that make an admin function fail validation before it does anything. */
function refusedQuery(op: OperationSpec): { query: string; parameter: string } {
  const first = Object.keys(webSignature(op).params)[0];
  if (first === undefined) return { query: 'matrix_probe=1', parameter: 'matrix_probe' };
  return { query: `${first}=${encodeURIComponent('not valid;')}`, parameter: first };
}

async function state(): Promise<string> {
  const info = await http(daemon.url, '/get_server_info', { headers: { authorization: basic(PASSWORDS.admin_password) } });
  const saved = await readFile(join(cluster.root, 'servers.save'), 'utf8');
  return `${info.text}\n${saved}`;
}

const as = (password: string | null, path: string): Promise<HttpReply> =>
  http(daemon.url, path, password === null ? {} : { headers: { authorization: basic(password) } });

test('auth matrix: every web function × no credentials, wrong password, read password, admin password', async () => {
  const web = OPERATIONS.filter((o) => o.web);
  assert.ok(web.length >= 20);
  for (const op of web) {
    const path = op.access === 'read' ? `/${op.name}?${readQuery(op)}` : `/${op.name}?${refusedQuery(op).query}`;
    const before = await state();
    const none = await as(null, path);
    assert.equal(none.status, 401, `${op.name} without credentials: ${none.text}`);
    assert.match(String(none.headers['www-authenticate']), /^Basic realm="handyrep"/);
    const wrong = await as(WRONG, path);
    assert.equal(wrong.status, 401, `${op.name} with a wrong password`);
    const read = await as(PASSWORDS.read_password, path);
    // get_agents passes authentication, then is refused: this deployment has no etcd, so no agents.
    const readOk = op.name === 'get_agents' ? 409 : 200;
    assert.equal(read.status, op.access === 'read' ? readOk : 403, `${op.name} with the read password: ${read.text}`);
    for (const refused of op.access === 'read' ? [none, wrong] : [none, wrong, read]) {
      assert.equal((refused.json as { result: string }).result, 'FAIL');
    }
    assert.equal(await state(), before, `${op.name}: a refused call changed the state`);
    const admin = await as(PASSWORDS.admin_password, path);
    if (op.access === 'read') {
      assert.equal(admin.status, readOk, `${op.name} as admin: ${admin.text}`);
    } else {
      // Admin passes authentication; the deliberately invalid parameter stops the call before it
      // acts (a parameter only the controller may give is forbidden whatever its value).
      assert.equal(admin.status, op.localOnly?.includes(refusedQuery(op).parameter) ? 403 : 400, `${op.name} as admin: ${admin.text}`);
      assert.equal((admin.json as { parameter: string }).parameter, refusedQuery(op).parameter);
      assert.equal(await state(), before, `${op.name}: an invalid call changed the state`);
    }
  }
  // And the admin password really runs an admin function.
  const polled = await as(PASSWORDS.admin_password, `/poll?servername=${cluster.master.name}`);
  assert.equal((polled.json as { result: string }).result, 'SUCCESS');
});

test('wrong passwords: logged with address and function, never the password; the address is slowed down, then reset', async () => {
  const timeOne = async (password: string): Promise<number> => {
    const started = performance.now();
    await as(password, '/get_status');
    return performance.now() - started;
  };
  const times: number[] = [];
  for (let i = 0; i < 6; i += 1) times.push(await timeOne(`${WRONG}-${i}`));
  // Delays before each attempt: 0, 40, 80, 160, 160, 160 ms (capped).
  assert.ok((times[3] ?? 0) >= 150, `4th attempt waited ${times[3]} ms`);
  assert.ok((times[5] ?? 0) >= 150 && (times[5] ?? 0) < 1000, `capped: ${times[5]} ms`);
  assert.ok((await timeOne(PASSWORDS.read_password)) >= 150, 'even the right password waits while slowed down');
  assert.ok((await timeOne(PASSWORDS.read_password)) >= 150, 'the read password does not reset the delay: it proves nothing about the admin password');
  assert.ok((await timeOne(PASSWORDS.admin_password)) >= 150, 'the admin password waits too');
  assert.ok((await timeOne(PASSWORDS.read_password)) < 100, 'the admin password reset the delay');

  assert.equal((await as(PASSWORDS.read_password, '/restart?servername=nosuch')).status, 403);
  const log = (await as(PASSWORDS.admin_password, '/read_log?numlines=1000')).json as { category: string; message: string }[];
  const failures = log.filter((e) => e.category === 'AUTH' && /authentication failed for get_status from 127\.0\.0\.1/.test(e.message));
  assert.ok(failures.length >= 6, `${failures.length} failures logged`);
  const text = JSON.stringify(log);
  for (const secret of [WRONG, PASSWORDS.admin_password, PASSWORDS.read_password]) assert.ok(!text.includes(secret), 'no password in the log');
  assert.ok(log.some((e) => e.category === 'AUTH' && /restart refused to 127\.0\.0\.1/.test(e.message)), 'read password on an admin function is logged');
});

test('health, metrics and the OpenAPI document need no credentials', async () => {
  assert.equal((await as(null, `/primary/${cluster.master.name}`)).status, 200);
  assert.equal((await as(null, '/health')).status, 200);
  assert.equal((await as(null, '/metrics')).status, 200);
  assert.equal((await as(null, '/openapi.json')).status, 200);
});

test('reload_conf applies new passwords at once; a configuration without an admin password is refused whole', async () => {
  const next = { admin_password: 'matrix-admin-8', read_password: 'matrix-read-8' };
  await writeConfig(cluster, configOverrides(next));
  const reloaded = await as(PASSWORDS.admin_password, '/reload_conf');
  assert.equal((reloaded.json as { result: string }).result, 'SUCCESS', reloaded.text);
  assert.equal((await as(PASSWORDS.admin_password, '/get_master_name')).status, 401);
  assert.equal((await as(next.admin_password, '/get_master_name')).status, 200);
  assert.equal((await as(next.read_password, '/get_status')).status, 200);

  await writeConfig(cluster, configOverrides({ admin_password: '', read_password: 'matrix-read-9' }));
  const refused = await as(next.admin_password, '/reload_conf');
  assert.equal(refused.status, 200);
  assert.equal((refused.json as { result: string }).result, 'FAIL');
  assert.match(refused.text, /admin_password/);
  assert.equal((await as(next.admin_password, '/get_master_name')).status, 200, 'the old passwords stay');

  // A reload may not open the API: zero_auth without allow_unauthenticated is refused whole.
  await writeConfig(cluster, { ...configOverrides(next), handyrep: { authentication_method: 'zero_auth' } });
  const opened = await as(next.admin_password, '/reload_conf');
  assert.equal((opened.json as { result: string }).result, 'FAIL', opened.text);
  assert.match(opened.text, /zero_auth lets anybody run every function.*allow_unauthenticated is not true/);
  assert.equal((await as(null, '/get_master_name')).status, 401, 'still closed to anonymous callers');
  assert.equal((await as(next.admin_password, '/get_master_name')).status, 200, 'the old settings stay');
  await writeConfig(cluster, configOverrides(PASSWORDS));
});
