/**
 * The daemon under password guessing and slow or greedy clients (issue 11), over real HTTP from
 * distinct loopback source addresses (each its own /32, so one test's lockout does not leak into
 * the next): 200 parallel wrong passwords → at most auth_failures_per_address reach the password
 * check (counted by handyrep_auth_checks_total), the rest 429 with Retry-After; the read password
 * between admin guesses resets nothing, the admin password does; a request without credentials is
 * refused before its body is read; a client trickling its headers is cut off after
 * header_timeout_seconds; connections beyond max_connections are closed; /health without the
 * read password shows statuses only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { basic, http } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const PASSWORDS = { admin_password: 'guard-admin-1', read_password: 'guard-read-1' };
const SUBNET = process.env['HANDYREP_TEST_SUBNET'] ?? '127.0.0';
let cluster: TestCluster;

before(async () => {
  cluster = await startCluster({ nodes: 1, ssh: false });
});

after(async () => {
  await cluster?.stop();
});

/** A daemon with simple_password_auth and these daemon settings; stopped by the caller. */
async function daemonWith(settings: Record<string, unknown>): Promise<RunningDaemon> {
  const path = await writeConfig(cluster, {
    handyrep: { authentication_method: 'simple_password_auth' },
    passwords: PASSWORDS,
    daemon: { auth_failure_delay_seconds: 0.02, auth_failure_delay_max_seconds: 0.1, ...settings },
  });
  return startDaemon(path, { host: '127.0.0.1', port: 0, monitor: false, notice: () => undefined });
}

interface Reply {
  status: number;
  retryAfter: string | undefined;
}

/** One GET on a connection of its own from `from` (a loopback address of the test subnet). */
function getFrom(daemon: RunningDaemon, from: string, path: string, password: string): Promise<Reply> {
  const url = new URL(daemon.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, localAddress: from, agent: false, headers: { authorization: basic(password) }, timeout: 20_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path} from ${from}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

/** handyrep_auth_checks_total{result=...} from /metrics. */
async function checksCounted(daemon: RunningDaemon, result: string): Promise<number> {
  const text = (await http(daemon.url, '/metrics')).text;
  const match = new RegExp(`^handyrep_auth_checks_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
  assert.ok(match, `handyrep_auth_checks_total{result="${result}"} in /metrics`);
  return Number(match[1]);
}

/** Raw connections of the test running; destroyed before its daemon stops (stop waits for open connections). */
const rawSockets: Socket[] = [];

async function stopDaemon(daemon: RunningDaemon): Promise<void> {
  for (const socket of rawSockets.splice(0)) socket.destroy();
  await daemon.stop();
}

/** A raw TCP connection to the daemon; `closed` settles when the daemon (or anyone) closes it. */
function rawConnection(daemon: RunningDaemon): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const url = new URL(daemon.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    rawSockets.push(socket);
    let data = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now())));
    socket.once('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Whichever comes first: `promise`, or null after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]).finally(() => clearTimeout(timer));
}

test('200 parallel wrong passwords from one address: at most auth_failures_per_address are checked, the rest get 429 with Retry-After', async () => {
  const daemon = await daemonWith({ auth_failures_per_address: 10, max_connections: 400 });
  try {
    const before = await checksCounted(daemon, 'rejected');
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => getFrom(daemon, `${SUBNET}.201`, '/get_status', `guess-${i}`)));
    const checked = (await checksCounted(daemon, 'rejected')) - before;
    const refused = replies.filter((r) => r.status === 429);
    assert.ok(checked <= 10, `${checked} wrong passwords reached the check`);
    assert.equal(replies.filter((r) => r.status === 401).length, checked);
    assert.equal(refused.length, 200 - checked, `statuses: ${JSON.stringify(replies.map((r) => r.status))}`);
    assert.ok(refused.every((r) => Number(r.retryAfter) >= 1), 'every 429 says when to retry');
    // Locked out for the window, even with the right password: it is not checked at all.
    assert.equal((await getFrom(daemon, `${SUBNET}.201`, '/get_status', PASSWORDS.admin_password)).status, 429);
    assert.equal((await getFrom(daemon, `${SUBNET}.202`, '/get_status', PASSWORDS.read_password)).status, 200, 'another address is not affected');
  } finally {
    await stopDaemon(daemon);
  }
});

test('the read password between admin guesses resets nothing; the admin password does', async () => {
  const daemon = await daemonWith({ auth_failures_per_address: 4 });
  try {
    const guesser = `${SUBNET}.203`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await getFrom(daemon, guesser, '/restart?servername=x', `admin-guess-${i}`)).status);
      statuses.push((await getFrom(daemon, guesser, '/get_status', PASSWORDS.read_password)).status);
    }
    assert.deepEqual(statuses, [401, 200, 401, 200, 401, 200, 401, 429], 'the fourth wrong password locks the address; the read password does not unlock it');
    assert.equal((await getFrom(daemon, guesser, '/get_master_name', PASSWORDS.admin_password)).status, 429);

    const admin = `${SUBNET}.204`;
    const withReset: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      for (let i = 0; i < 3; i += 1) withReset.push((await getFrom(daemon, admin, '/get_status', `typo-${round}-${i}`)).status);
      withReset.push((await getFrom(daemon, admin, '/get_master_name', PASSWORDS.admin_password)).status);
    }
    assert.deepEqual(withReset, [401, 401, 401, 200, 401, 401, 401, 200, 401, 401, 401, 200], 'nine wrong passwords, never locked: the admin password reset the count');
  } finally {
    await stopDaemon(daemon);
  }
});

test('no credentials (or no such path) and a big body: 401 (404) before the body is read, and the connection is closed', async () => {
  const daemon = await daemonWith({});
  try {
    const conn = await rawConnection(daemon);
    conn.socket.write('POST /set_verbose HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n{"verbose":');
    const closedAt = await within(conn.closed, 3000);
    assert.ok(closedAt !== null, `closed without waiting for 900000 bytes of body; got: ${conn.received().slice(0, 200)}`);
    assert.match(conn.received(), /^HTTP\/1\.1 401 /);
    assert.match(conn.received(), /connection: close/i);
    // The same for a path no route serves.
    const nowhere = await rawConnection(daemon);
    nowhere.socket.write('POST /no/such/path HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n{');
    assert.ok((await within(nowhere.closed, 3000)) !== null, 'closed without waiting for the body');
    assert.match(nowhere.received(), /^HTTP\/1\.1 404 /);
  } finally {
    await stopDaemon(daemon);
  }
});

test('a client that sends its headers byte by byte is cut off after header_timeout_seconds', async () => {
  const daemon = await daemonWith({ header_timeout_seconds: 1, request_timeout_seconds: 2 });
  try {
    const conn = await rawConnection(daemon);
    const started = Date.now();
    conn.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    let sent = 0;
    let closedAt: number | null = null;
    // One byte every 100 ms for at most 8 s: each byte keeps the socket busy, only the header timeout ends it.
    while (closedAt === null && sent < 80) {
      if (!conn.socket.destroyed) conn.socket.write('a');
      sent += 1;
      closedAt = await within(conn.closed, 100);
    }
    assert.ok(closedAt !== null, 'the daemon closed the connection');
    const after = closedAt - started;
    assert.ok(after >= 900 && after < 4000, `closed ${after} ms after connecting (header timeout 1 s)`);
    assert.doesNotMatch(conn.received(), /HTTP\/1\.1 200/);
  } finally {
    await stopDaemon(daemon);
  }
});

test('connections beyond max_connections are closed as they arrive; freeing one lets a new one in', async () => {
  const daemon = await daemonWith({ max_connections: 3, header_timeout_seconds: 10, request_timeout_seconds: 10 });
  const held: Socket[] = [];
  try {
    for (let i = 0; i < 3; i += 1) held.push((await rawConnection(daemon)).socket);
    const extra = await rawConnection(daemon);
    assert.ok((await within(extra.closed, 2000)) !== null, 'the fourth connection was closed');
    assert.equal(extra.received(), '', 'without an answer');
    for (const socket of held) assert.ok(!socket.destroyed, 'the first three stay open');
    const first = held.shift() as Socket;
    const firstClosed = new Promise((resolve) => first.once('close', resolve));
    first.destroy();
    await firstClosed;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const health = await http(daemon.url, '/health', { headers: { connection: 'close' } });
    assert.equal(health.status, 200);
  } finally {
    await stopDaemon(daemon);
  }
});

test('/health without the read password: statuses and counts only, no names, hosts or texts; with it: everything', async () => {
  const daemon = await daemonWith({});
  try {
    await http(daemon.url, '/verify_all', { headers: { authorization: basic(PASSWORDS.admin_password) } });
    const open = await http(daemon.url, '/health');
    assert.equal(open.status, 200);
    const body = open.json as { monitor: Record<string, unknown>; cluster: Record<string, unknown> };
    assert.deepEqual(Object.keys(body).sort(), ['cluster', 'monitor', 'status']);
    assert.deepEqual(Object.keys(body.cluster).sort(), ['paused', 'status', 'status_no', 'status_ts']);
    assert.deepEqual(Object.keys(body.monitor).sort(), ['cycles', 'errors', 'last_cycle_ts', 'last_duration_ms', 'running']);
    for (const node of cluster.nodes) {
      assert.ok(!open.text.includes(node.host) && !open.text.includes(node.name), `${node.name}/${node.host} not shown: ${open.text}`);
    }
    const read = await http(daemon.url, '/health', { headers: { authorization: basic(PASSWORDS.read_password) } });
    assert.equal(read.status, 200);
    const full = read.json as { monitor: Record<string, unknown>; cluster: Record<string, unknown> };
    assert.ok('status_message' in full.cluster && 'last_error' in full.monitor, read.text);
    const wrong = await http(daemon.url, '/health', { headers: { authorization: basic('not-the-password') } });
    assert.equal(wrong.status, 401, 'a wrong password on /health is refused (and counted) like anywhere else');
  } finally {
    await stopDaemon(daemon);
  }
});
