/**
 * The CLI in process against a stand-in daemon (a local HTTP server answering as the daemon
 * does): what it sends (POST, JSON body, Basic auth), what it prints, and every exit code:
 * 0 success, 1 FAIL / authentication, 2 usage (local checks and the daemon's 400/404),
 * 3 cannot reach the daemon.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OPERATIONS } from '../../src/api/operations.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { captureIo, type CapturedIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

interface Seen {
  path: string;
  method: string;
  body: unknown;
  authorization: string | undefined;
  contentType: string | undefined;
}

let server: Server;
let url = '';
let closedUrl = '';
const seen: Seen[] = [];

const STATUS = {
  cluster: { status: 'healthy', status_no: 1, status_ts: '2025-11-22T04:30:01Z', status_message: 'master and replicas are running' },
  servers: {
    john: { hostname: '127.0.0.11', role: 'master', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'master passed verification' },
    paul: { hostname: '127.0.0.12', role: 'replica', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'streaming' },
  },
};

/** path → [status, body] the stand-in daemon answers. */
const ANSWERS: Record<string, [number, unknown]> = {
  '/get_status': [200, STATUS],
  '/get_server_info': [200, { john: { timeline: 3, lag_mb: null }, paul: { timeline: 3, lag_mb: 0 } }],
  '/get_master_name': [200, 'john'],
  '/promote': [200, { result: 'FAIL', details: 'the master john is running', reason_code: 'master_running' }],
  '/manual_failover': [200, { result: 'SUCCESS', details: 'switched over from john to paul', newmaster: 'paul' }],
  '/poll': [404, { result: 'FAIL', details: 'poll: no server named "nobody" is configured', parameter: 'servername' }],
  '/add_server': [400, { result: 'FAIL', details: 'add_server: serverprops.bogus: unknown setting', parameter: 'serverprops' }],
  '/poll_all': [403, { result: 'FAIL', details: 'poll_all requires the admin password' }],
  '/reload_conf': [409, { result: 'FAIL', details: 'refused: a password setting changed', code: 'REFUSED' }],
  '/init_handyrep_db': [500, { result: 'FAIL', details: 'internal error (logged on the controller)' }],
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

before(async () => {
  server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const path = req.url ?? '';
      seen.push({ path, method: req.method ?? '', body: text ? JSON.parse(text) : undefined, authorization: req.headers.authorization, contentType: req.headers['content-type'] });
      if (path === '/set_verbose') {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="handyrep"' }).end(JSON.stringify({ result: 'FAIL', details: 'password rejected' }));
        return;
      }
      if (path === '/get_cluster_status') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not handyrep</html>');
        return;
      }
      const [status, body] = ANSWERS[path] ?? [404, { result: 'FAIL', details: `function "${path.slice(1)}" does not exist` }];
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

after(() => {
  server.close();
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; io: CapturedIo }> {
  const io = captureIo({ env: { HOME: '/nonexistent', HANDYREP_URL: url, HANDYREP_PASSWORD: 'pw', ...env } });
  const code = await main(args, io);
  return { code, io };
}

test('status: get_status and get_server_info as POST with JSON bodies and Basic auth; a table; --json prints the raw answer', async () => {
  seen.length = 0;
  const { code, io } = await run(['status', '--check', 'poll']);
  assert.equal(code, EXIT.OK, io.stderr());
  assert.deepEqual(seen.map((s) => [s.method, s.path, s.body]), [['POST', '/get_status', { check_type: 'poll' }], ['POST', '/get_server_info', {}]]);
  assert.equal(seen[0]?.contentType, 'application/json');
  assert.equal(seen[0]?.authorization, `Basic ${Buffer.from('handyrep:pw').toString('base64')}`);
  assert.match(io.stdout(), /^NAME +ROLE +STATUS +LAG \(MB\) +TIMELINE +MESSAGE\njohn +master +healthy +- +3 +master passed verification\npaul +replica +healthy +0\.0 +3 +streaming\ncluster: healthy — /);
  const json = await run(['get-status', '--json']);
  assert.equal(json.code, EXIT.OK);
  assert.deepEqual(JSON.parse(json.io.stdout()), STATUS);
  const master = await run(['get_master_name']);
  assert.equal(master.io.stdout(), 'john\n');
});

test('a FAIL result exits 1 (printed as FAIL: details, or as JSON with --json); SUCCESS exits 0', async () => {
  const fail = await run(['promote', 'paul']);
  assert.equal(fail.code, EXIT.FAILURE);
  assert.equal(fail.io.stdout(), 'FAIL: the master john is running\n  reason_code: master_running\n');
  const failJson = await run(['promote', 'paul', '--json']);
  assert.equal(failJson.code, EXIT.FAILURE);
  assert.equal((JSON.parse(failJson.io.stdout()) as { result: string }).result, 'FAIL');
  seen.length = 0;
  const ok = await run(['failover', '--to', 'paul', '--no-remaster']);
  assert.equal(ok.code, EXIT.OK);
  assert.deepEqual(seen[0]?.body, { newmaster: 'paul', remaster: false });
  assert.match(ok.io.stdout(), /^SUCCESS: switched over from john to paul\n  newmaster: paul\n$/);
  assert.match(ok.io.stderr(), /manual_failover: waiting for the controller…/, 'a long action says it is waiting');
});

test('the daemon\'s 400 and 404 exit 2 with its message; 401 and 403 exit 1 saying what is wrong; 409 and 500 exit 1', async () => {
  const notFound = await run(['poll', 'nobody']);
  assert.equal(notFound.code, EXIT.USAGE);
  assert.match(notFound.io.stderr(), /poll: no server named "nobody" is configured/);
  const bad = await run(['server', 'add', 'ringo', '--set', 'bogus=1']);
  assert.equal(bad.code, EXIT.USAGE);
  assert.match(bad.io.stderr(), /serverprops\.bogus: unknown setting/);
  const badJson = await run(['server', 'add', 'ringo', '--set', 'bogus=1', '--json']);
  assert.equal((JSON.parse(badJson.io.stdout()) as { parameter: string }).parameter, 'serverprops', '--json prints the error body too');
  const unauthorised = await run(['set_verbose']);
  assert.equal(unauthorised.code, EXIT.FAILURE);
  assert.match(unauthorised.io.stderr(), /authentication failed: the daemon at .* refused the password/);
  const noPassword = await run(['set_verbose'], { HANDYREP_PASSWORD: '' });
  assert.match(noPassword.io.stderr(), /authentication failed: .*needs a password \(--password, HANDYREP_PASSWORD/);
  const forbidden = await run(['poll']);
  assert.equal(forbidden.code, EXIT.FAILURE);
  assert.match(forbidden.io.stderr(), /poll_all needs the admin password/);
  const refused = await run(['reload_conf']);
  assert.equal(refused.code, EXIT.FAILURE);
  assert.match(refused.io.stderr(), /FAIL: refused: a password setting changed/);
  const internal = await run(['init_handyrep_db']);
  assert.equal(internal.code, EXIT.FAILURE);
  assert.match(internal.io.stderr(), /HTTP 500: internal error/);
});

test('cannot reach the daemon: exit 3 (connection refused, not a HandyRep daemon)', async () => {
  const refused = await run(['status'], { HANDYREP_URL: closedUrl });
  assert.equal(refused.code, EXIT.UNREACHABLE);
  assert.match(refused.io.stderr(), /cannot reach the HandyRep daemon at http:\/\/127\.0\.0\.1:\d+: connection refused/);
  const unknownHost = await run(['status', '--url', 'http://no-such-host.invalid:8080']);
  assert.equal(unknownHost.code, EXIT.UNREACHABLE);
  const notOurs = await run(['get_cluster_status']);
  assert.equal(notOurs.code, EXIT.UNREACHABLE);
  assert.match(notOurs.io.stderr(), /no JSON: is it a HandyRep daemon/);
});

test('usage errors exit 2 with a message naming the problem, before anything is sent', async () => {
  seen.length = 0;
  const cases: [string[], RegExp][] = [
    [['no-such-command'], /unknown command 'no-such-command'/],
    [['status', '--bogus'], /unknown option '--bogus'/],
    [['read_log', '--numlines', 'abc'], /--numlines: "abc" is not an integer/],
    [['log', '-n', '0'], /--numlines: .*>=1/],
    [['status', '--check', 'sometimes'], /--check: "sometimes" is not one of cached, poll, verify/],
    [['get_status', '--check-type', 'sometimes'], /--check-type: "sometimes" is not one of/],
    [['poll', 'pa;ul'], /<servername>: must be 1-63 letters/],
    [['server', 'enable', 'x y'], /<servername>: must be/],
    [['switchover'], /missing newmaster: give --to/],
    [['server', 'add', 'ringo'], /missing serverprops/],
    [['status', '--url', 'ftp://x'], /--url: "ftp:\/\/x" is not an http/],
    [['status', '--timeout', '-1'], /--timeout: "-1" is not a positive number/],
    [['verify_master'], /library-only .* --local/],
    [['status', '--config', 'x.yaml'], /--config is for library mode: add --local/],
    [['poll', 'paul', 'george'], /too many arguments|unexpected argument/],
    [['demo', '--port', 'http'], /--port: "http" is not a port number/],
  ];
  for (const [args, pattern] of cases) {
    const { code, io } = await run(args);
    assert.equal(code, EXIT.USAGE, `${args.join(' ')}: ${io.stderr()}`);
    assert.match(io.stderr(), pattern, args.join(' '));
  }
  assert.deepEqual(seen, [], 'nothing reached the daemon');
});

test('--help everywhere, with examples; every function of the table is a command (also with dashes); --check_type spelling', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, EXIT.OK);
  assert.match(help.io.stdout(), /Everyday commands/);
  assert.match(help.io.stdout(), /Exit codes: 0 success, 1 the function answered FAIL/);
  for (const op of OPERATIONS) {
    const { code, io } = await run([op.name, '--help']);
    assert.equal(code, EXIT.OK, op.name);
    assert.match(io.stdout(), /Examples:\n {2}\$ handyrep /, op.name);
  }
  for (const alias of ['status', 'failover', 'switchover', 'log', 'history', 'start', 'stop', 'verify', 'poll', 'server', 'clone', 'daemon', 'demo', 'get-server-info']) {
    const { code, io } = await run([alias, '--help']);
    assert.equal(code, EXIT.OK, alias);
    assert.match(io.stdout(), /Examples:/, alias);
  }
  seen.length = 0;
  assert.equal((await run(['get_status', '--check_type', 'verify'])).code, EXIT.OK);
  assert.deepEqual(seen[0]?.body, { check_type: 'verify' });
  seen.length = 0;
  await run(['get_setting', 'failover', 'poll_interval']);
  assert.deepEqual(seen[0]?.body, { category: 'failover', setting: 'poll_interval' }, 'the web form of get_setting');
});
