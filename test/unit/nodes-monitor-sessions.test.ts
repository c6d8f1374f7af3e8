import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MonitorSessions } from '../../src/nodes/monitor-sessions.js';
import type { SqlClient, SqlRow, SqlSession, SqlTarget } from '../../src/nodes/ports.js';
import { SqlConnectError } from '../../src/nodes/sql-client.js';

const target: SqlTarget = { host: '127.0.0.11', port: 5432, database: 'postgres', user: 'handyrep', connectTimeoutMs: 1000, statementTimeoutMs: 1000 };

/** A session whose queries answer, fail or stay silent as told, and which can be "dropped by the server". */
class FakeSession implements SqlSession {
  ended = false;
  answer: 'rows' | 'fail' | 'silent' = 'rows';
  private readonly lost: ((reason: string) => void)[] = [];
  query<Row extends SqlRow = SqlRow>(): Promise<Row[]> {
    if (this.ended) return Promise.reject(new Error('ended'));
    if (this.answer === 'fail') return Promise.reject(new Error('connection terminated'));
    if (this.answer === 'silent') return new Promise(() => undefined);
    return Promise.resolve([{ in_recovery: false } as unknown as Row]);
  }
  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }
  onLost(listener: (reason: string) => void): void {
    this.lost.push(listener);
  }
  drop(): void {
    for (const l of this.lost.splice(0)) l('server closed the connection');
  }
}

class FakeClient implements SqlClient {
  readonly sessions: FakeSession[] = [];
  refuse = false;
  connect(): Promise<SqlSession> {
    if (this.refuse) return Promise.reject(new SqlConnectError('refused', 'refused'));
    const s = new FakeSession();
    this.sessions.push(s);
    return Promise.resolve(s);
  }
}

function setup(): { client: FakeClient; sessions: MonitorSessions; lost: string[] } {
  const client = new FakeClient();
  const lost: string[] = [];
  const sessions = new MonitorSessions(client, (t, reason) => lost.push(`${t.host}: ${reason}`));
  return { client, sessions, lost };
}

test('polls reuse one session per server', async () => {
  const { client, sessions } = setup();
  for (let i = 0; i < 5; i += 1) await sessions.query(target, 'SELECT 1', 1000);
  assert.equal(client.sessions.length, 1);
  await sessions.query({ ...target, host: '127.0.0.12' }, 'SELECT 1', 1000);
  assert.equal(client.sessions.length, 2);
  assert.equal(sessions.openCount(), 2);
});

test('a session the server drops is reported at once, and the next query opens a new one', async () => {
  const { client, sessions, lost } = setup();
  await sessions.query(target, 'SELECT 1', 1000);
  client.sessions[0]?.drop();
  assert.deepEqual(lost, ['127.0.0.11: server closed the connection']);
  await sessions.query(target, 'SELECT 1', 1000);
  assert.equal(client.sessions.length, 2);
});

test('a query failing on a reused session is tried once on a new session; its connect failure is what the poll sees', async () => {
  const { client, sessions, lost } = setup();
  await sessions.query(target, 'SELECT 1', 1000);
  (client.sessions[0] as FakeSession).answer = 'fail';
  client.refuse = true;
  await assert.rejects(sessions.query(target, 'SELECT 1', 1000), (err: unknown) => err instanceof SqlConnectError && err.kind === 'refused');
  assert.equal(client.sessions[0]?.ended, true);
  assert.deepEqual(lost, [], 'a failure seen by a query is not also reported as a loss');
});

test('a silent server fails the query as a timeout, once, and its session is cut', async () => {
  const { client, sessions } = setup();
  await sessions.query(target, 'SELECT 1', 1000);
  (client.sessions[0] as FakeSession).answer = 'silent';
  await assert.rejects(sessions.query(target, 'SELECT 1', 20), (err: unknown) => err instanceof SqlConnectError && err.kind === 'timeout');
  assert.equal(client.sessions.length, 1, 'no second attempt after silence');
  assert.equal(client.sessions[0]?.ended, true);
});

test('closeAll ends every session and reports no loss; a later query reopens', async () => {
  const { client, sessions, lost } = setup();
  await sessions.query(target, 'SELECT 1', 1000);
  await sessions.closeAll();
  assert.equal(client.sessions[0]?.ended, true);
  client.sessions[0]?.drop();
  assert.deepEqual(lost, []);
  assert.equal(sessions.openCount(), 0);
  await sessions.query(target, 'SELECT 1', 1000);
  assert.equal(client.sessions.length, 2);
});

test('new connection parameters (a reload) replace the session', async () => {
  const { client, sessions } = setup();
  await sessions.query(target, 'SELECT 1', 1000);
  await sessions.query({ ...target, password: 'new' }, 'SELECT 1', 1000);
  assert.equal(client.sessions.length, 2);
  assert.equal(client.sessions[0]?.ended, true);
});

test('stricter TLS or password-method settings replace the open session, never ride on it', async () => {
  const { client, sessions } = setup();
  await sessions.query(target, 'SELECT 1', 1000);
  await sessions.query({ ...target, tls: { mode: 'verify-full', rootcert: '/etc/ca.pem', cert: null, key: null } }, 'SELECT 1', 1000);
  assert.equal(client.sessions.length, 2);
  assert.equal(client.sessions[0]?.ended, true, 'the session opened under the weaker settings is closed');
  await sessions.query({ ...target, tls: { mode: 'verify-full', rootcert: '/etc/ca.pem', cert: null, key: null }, allowedPasswordMethods: ['scram-sha-256'] }, 'SELECT 1', 1000);
  assert.equal(client.sessions.length, 3);
});
