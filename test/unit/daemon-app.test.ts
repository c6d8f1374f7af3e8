/**
 * The HTTP layer by injection (no sockets, no cluster), over a fake of the daemon's backend port:
 * routes generated from the operations table, authentication, error mapping, body handling,
 * the OpenAPI document and metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { FailoverEvent, StatusReport } from '../../src/api/handyrep.js';
import { OPERATIONS } from '../../src/api/operations.js';
import { configSchema } from '../../src/config/schema.js';
import { buildDaemonApp, BODY_LIMIT_BYTES } from '../../src/daemon/app.js';
import type { DaemonBackend } from '../../src/daemon/backend.js';
import { EventLog } from '../../src/log/event-log.js';
import { HandyRepError } from '../../src/model/errors.js';
import { makeServerStatus } from '../../src/model/status.js';
import { LocalShell } from '../../src/nodes/local-shell.js';
import { NodeShellPool } from '../../src/nodes/node-shells.js';
import { PgSqlClient } from '../../src/nodes/sql-client.js';
import { simplePasswordAuth } from '../../src/plugins/auth/simple_password_auth.js';
import type { CheckEvent } from '../../src/runtime/checks.js';
import { buildPluginContext } from '../../src/runtime/plugin-context.js';
import { webSignature } from '../../src/daemon/web-params.js';

const ADMIN = `Basic ${Buffer.from('x:admin-pw').toString('base64')}`;
const READ = `Basic ${Buffer.from('x:read-pw').toString('base64')}`;

const report: StatusReport = {
  cluster: { status: 'healthy', status_no: 1, status_ts: 'now', status_message: '' },
  servers: {
    john: { hostname: 'h1', role: 'master', enabled: true, ...makeServerStatus('healthy', '', 'now') },
    paul: { hostname: 'h2', role: 'replica', enabled: true, ...makeServerStatus('healthy', '', 'now') },
  },
  sync: { mode: 'on', method: 'any', node_count: 1, recorded: { members: ['paul'], quorum: 1, master: 'john', at: 'now', reason: 'ANY 1 of paul' }, changes: [] },
};

interface Fake {
  app: FastifyInstance;
  calls: [string, Record<string, unknown>][];
  logs: string[];
  fireCheck(event: CheckEvent): void;
  fireFailover(event: FailoverEvent): void;
  /** The backend's state revision and how often get_status reached it. */
  state: { revision: number; statusCalls: number };
}

function fake(behaviour: (name: string, params: Record<string, unknown>) => unknown = () => ({ result: 'SUCCESS', details: '' })): Fake {
  const calls: [string, Record<string, unknown>][] = [];
  const logs: string[] = [];
  const state = { revision: 0, statusCalls: 0 };
  const checkListeners: ((e: CheckEvent) => void)[] = [];
  const failoverListeners: ((e: FailoverEvent) => void)[] = [];
  const backend: DaemonBackend = {
    async invoke(name, params) {
      if (name === 'get_status') {
        state.statusCalls++;
        return report;
      }
      if (name === 'get_server_info') return { john: { lag_bytes: null, lag_seconds: null }, paul: { lag_bytes: 4096, lag_seconds: 0.5 } };
      calls.push([name, { ...params }]);
      return behaviour(name, { ...params });
    },
    monitorStatus: () => ({ running: true, cycles: 7, errors: 2, last_error: null, last_cycle_ts: null, last_result: null, last_duration_ms: null }),
    stateRevision: () => state.revision,
    onCheck: (l) => checkListeners.push(l),
    onFailover: (l) => failoverListeners.push(l),
    onStateChange: () => undefined,
    onLogEntry: () => undefined,
    log: { info: () => undefined, warn: (c, m) => logs.push(`${c} ${m}`), error: (c, m) => logs.push(`${c} ${m}`) },
    configFile: 'handyrep.yaml',
  };
  const config = configSchema.parse({ handyrep: { authentication_method: 'simple_password_auth' }, passwords: { admin_password: 'admin-pw', read_password: 'read-pw' } });
  const log = new EventLog({ file: null, tailSize: 100, verbose: false });
  const ctx = buildPluginContext({ config, configDir: '.', log, sql: new PgSqlClient(), shells: new NodeShellPool(), controllerShell: new LocalShell() });
  const app = buildDaemonApp({ backend, auth: () => ({ plugin: simplePasswordAuth, ctx }), throttle: { baseMs: 0, maxMs: 0 }, version: '9.9.9' });
  return {
    app,
    calls,
    logs,
    state,
    fireCheck: (e) => checkListeners.forEach((l) => l(e)),
    fireFailover: (e) => failoverListeners.forEach((l) => l(e)),
  };
}

test('every web function answers GET and POST /<name>; library-only and unknown ones are 404 RDs', async () => {
  const { app, calls } = fake();
  for (const op of OPERATIONS) {
    // Required parameters get a value (the fake does not validate; web forms do).
    const query = op.web ? webSignature(op).required.map((name) => `${name}=x`).join('&') : '';
    for (const method of ['GET', 'POST'] as const) {
      const res = await app.inject({ method, url: `/${op.name}?${query}`, headers: { authorization: ADMIN } });
      if (op.web) {
        assert.equal(res.statusCode, 200, `${method} ${op.name}: ${res.body}`);
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      } else {
        assert.equal(res.statusCode, 404, op.name);
        assert.equal(res.json().function, op.name);
      }
    }
  }
  // A state-only function answers the second call from the answer kept for the revision.
  const counted = OPERATIONS.filter((o) => o.web && o.name !== 'get_status' && o.name !== 'get_server_info');
  assert.equal(calls.length, counted.reduce((sum, o) => sum + ('stateOnly' in o ? 1 : 2), 0));
  const unknown = await app.inject({ url: '/no_such_thing', headers: { authorization: ADMIN } });
  assert.equal(unknown.statusCode, 404);
  assert.deepEqual(Object.keys(unknown.json()).sort(), ['details', 'function', 'result']);
  const put = await app.inject({ method: 'PUT', url: '/get_status' });
  assert.equal(put.statusCode, 404);
  assert.equal(put.json().result, 'FAIL');
  const head = await app.inject({ method: 'HEAD', url: '/restart?servername=john', headers: { authorization: ADMIN } });
  assert.notEqual(head.statusCode, 200, 'HEAD never runs a function');
  assert.equal(calls.filter(([n]) => n === 'restart').length, 2);
});

test('authentication: 401 with a Basic challenge, 401 for a wrong password, 403 for read on admin; no password in the log', async () => {
  const { app, calls, logs } = fake();
  const none = await app.inject({ url: '/restart?servername=john' });
  assert.equal(none.statusCode, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="handyrep"/);
  const wrong = await app.inject({ url: '/restart?servername=john', headers: { authorization: `Basic ${Buffer.from('x:guess-123').toString('base64')}` } });
  assert.equal(wrong.statusCode, 401);
  const read = await app.inject({ url: '/restart?servername=john', headers: { authorization: READ } });
  assert.equal(read.statusCode, 403);
  assert.equal((await app.inject({ url: '/get_server_info', headers: { authorization: READ } })).statusCode, 200);
  assert.deepEqual(calls.filter(([n]) => n === 'restart'), [], 'refused calls never reach HandyRep');
  assert.ok(logs.some((l) => /authentication failed for restart from 127\.0\.0\.1/.test(l)), logs.join('\n'));
  assert.ok(!logs.some((l) => l.includes('guess-123') || l.includes('read-pw')), 'passwords are never logged');
  // Authentication comes before parameter checks: an anonymous caller learns nothing about them.
  assert.equal((await app.inject({ url: '/restart?bogus=1' })).statusCode, 401);
});

test('errors: coded errors map to 400/404/409; anything else is a logged 500 with no detail; the app lives on', async () => {
  const { app, logs } = fake((name) => {
    if (name === 'poll') throw new HandyRepError('UNKNOWN_SERVER', 'no server named "ghost" is configured');
    if (name === 'enable') throw new HandyRepError('REFUSED', 'not now');
    if (name === 'disable') throw new HandyRepError('LOCKED', 'busy');
    if (name === 'remove') throw Object.assign(new HandyRepError('INVALID_PARAMETER', 'remove: servername: bad'), { parameter: 'servername' });
    if (name === 'restart') throw new TypeError('secret internal detail');
    if (name === 'read_log') return Promise.reject(new Error('async failure'));
    return { result: 'FAIL', details: 'ran and failed' };
  });
  const get = async (url: string) => app.inject({ url, headers: { authorization: ADMIN } });
  const unknownServer = await get('/poll?servername=ghost');
  assert.equal(unknownServer.statusCode, 404);
  assert.equal(unknownServer.json().parameter, 'servername');
  assert.equal((await get('/enable?servername=x')).statusCode, 409);
  assert.equal((await get('/disable?servername=x')).json().code, 'LOCKED');
  assert.equal((await get('/remove?servername=x')).json().parameter, 'servername');
  const internal = await get('/restart?servername=x');
  assert.equal(internal.statusCode, 500);
  assert.doesNotMatch(internal.body, /secret/);
  assert.ok(logs.some((l) => l.includes('secret internal detail')), 'the cause is logged');
  assert.equal((await get('/read_log')).statusCode, 500);
  const failRd = await get('/startup?servername=x');
  assert.equal(failRd.statusCode, 200, 'an RD with result FAIL is still 200');
  assert.equal(failRd.json().result, 'FAIL');
  assert.equal((await app.inject({ url: '/health' })).statusCode, 200, 'still alive');
});

test('bodies: JSON, form and query merge; bad JSON 400, unknown type 415, too large 413, all as RDs naming the body', async () => {
  const { app, calls } = fake();
  const post = (payload: string | Buffer, type: string) =>
    app.inject({ method: 'POST', url: '/get_servers_by_role?verify=yes', headers: { authorization: ADMIN, 'content-type': type }, payload });
  assert.equal((await post('{"serverrole":"master"}', 'application/json')).statusCode, 200);
  assert.equal((await post('serverrole=master', 'application/x-www-form-urlencoded')).statusCode, 200);
  assert.deepEqual(calls.map(([, p]) => p), [{ serverrole: 'master', verify: true }, { serverrole: 'master', verify: true }]);
  const cases: [string | Buffer, string, number][] = [
    ['{"serverrole":', 'application/json', 400],
    ['', 'application/json', 400],
    [Buffer.from([0, 1, 2, 255]), 'application/octet-stream', 415],
    ['x'.repeat(BODY_LIMIT_BYTES + 10), 'application/x-www-form-urlencoded', 413],
    ['[1,2]', 'application/json', 400],
    ['{"__proto__":{"x":1}}', 'application/json', 400],
  ];
  for (const [payload, type, status] of cases) {
    const res = await post(payload, type);
    assert.equal(res.statusCode, status, `${type} ${String(payload).slice(0, 20)}: ${res.body}`);
    assert.equal(res.json().result, 'FAIL');
    assert.equal(res.json().parameter, '(body)');
  }
  const badUrl = await app.inject({ url: '/get_status%ZZ', headers: { authorization: ADMIN } });
  assert.ok(badUrl.statusCode >= 400 && badUrl.statusCode < 500);
  assert.equal(badUrl.json().result, 'FAIL');
});

test('health endpoints answer from get_status without authentication', async () => {
  const { app } = fake();
  assert.equal((await app.inject({ url: '/primary/john' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/read-write/john' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/primary/paul' })).statusCode, 503);
  assert.equal((await app.inject({ url: '/replica/paul' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/replica/paul?lag=4kB' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/replica/paul?lag=4095' })).statusCode, 503);
  assert.equal((await app.inject({ url: '/replica/paul?lag=x' })).json().parameter, 'lag');
  assert.equal((await app.inject({ url: '/replica/nobody' })).statusCode, 404);
  const health = (await app.inject({ url: '/health' })).json();
  assert.equal(health.monitor.cycles, 7);
  assert.equal((await app.inject({ method: 'HEAD', url: '/primary/john' })).statusCode, 200);
});

test('state-only answers are kept per state revision; parameters, and a new revision, compute them again', async () => {
  const { app, state } = fake();
  const get = (url: string) => app.inject({ url, headers: { authorization: READ } });
  const first = await get('/get_status');
  assert.equal((await app.inject({ url: '/primary/john' })).statusCode, 200);
  const second = await get('/get_status');
  assert.equal(state.statusCalls, 1, 'one computation for two get_status calls and a health check');
  assert.equal(second.body, first.body);
  assert.deepEqual(second.json(), report);
  await get('/get_status?check_type=cached');
  assert.equal(state.statusCalls, 2, 'a call with parameters goes to the library');
  state.revision++;
  await get('/get_status');
  await get('/get_status');
  assert.equal(state.statusCalls, 3, 'a new revision computes once more');
  // Authentication still runs for a kept answer.
  assert.equal((await app.inject({ url: '/get_status' })).statusCode, 401);
});

test('OpenAPI 3.1 document: every web function with its parameters, the get_setting web form, health paths', async () => {
  const { app } = fake();
  const doc = (await app.inject({ url: '/openapi.json' })).json() as {
    openapi: string;
    info: { version: string };
    paths: Record<string, { get?: { parameters?: { name: string; required: boolean }[] } }>;
  };
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.version, '9.9.9');
  for (const op of OPERATIONS) assert.equal(Object.hasOwn(doc.paths, `/${op.name}`), op.web, op.name);
  const setting = doc.paths['/get_setting']?.get?.parameters ?? [];
  assert.deepEqual(setting.map((p) => [p.name, p.required]), [['category', false], ['setting', true]]);
  assert.ok(doc.paths['/primary/{server}'] && doc.paths['/replica/{server}']);
});

test('metrics: statuses and lag from cached state, check latency and failovers from events, monitor counts', async () => {
  const { app, fireCheck, fireFailover } = fake();
  fireCheck({ kind: 'poll', server: 'john', durationMs: 12, status: 'healthy', ok: true });
  fireCheck({ kind: 'verify', server: 'paul', durationMs: 80, status: 'healthy', ok: false });
  fireFailover({ kind: 'failover', outcome: 'success', durationMs: 4200, from: 'john', to: 'paul' });
  const text = (await app.inject({ url: '/metrics' })).body;
  assert.match(text, /handyrep_server_status\{server="john",role="master"\} 1/);
  assert.match(text, /handyrep_cluster_status 1/);
  assert.match(text, /^handyrep_sync_standbys 1$/m);
  assert.match(text, /^handyrep_synchronous_mode 1$/m);
  assert.match(text, /handyrep_replication_lag_bytes\{server="paul"\} 4096/);
  assert.doesNotMatch(text, /handyrep_replication_lag_bytes\{server="john"\}/, 'no series for unmeasured lag');
  assert.match(text, /handyrep_check_duration_seconds_count\{kind="poll"\} 1/);
  assert.match(text, /handyrep_checks_total\{kind="verify",result="fail"\} 1/);
  assert.match(text, /handyrep_failovers_total\{kind="failover",outcome="success"\} 1/);
  assert.match(text, /handyrep_last_failover_duration_seconds 4\.2/);
  assert.match(text, /handyrep_check_cycle_errors_total 2/);
  assert.match(text, /handyrep_check_cycles_total 7/);
  // A second scrape does not double the mirrored counters.
  assert.match((await app.inject({ url: '/metrics' })).body, /handyrep_check_cycles_total 7/);
});
